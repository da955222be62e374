"""Backbone strides, and loading torchvision-format state dicts from local files."""

import pickle

import pytest
import torch
from safetensors.torch import save_file

from model import BackboneWeightsError, build_backbone, load_backbone_weights


def torchvision_resnet_keys(depth: int) -> dict[str, tuple[int, ...]]:
    """Names and shapes of torchvision's resnet{depth}.state_dict(), written out independently."""
    bottleneck = depth >= 50
    layers = {18: (2, 2, 2, 2), 34: (3, 4, 6, 3), 50: (3, 4, 6, 3)}[depth]
    exp = 4 if bottleneck else 1
    keys: dict[str, tuple[int, ...]] = {"conv1.weight": (64, 3, 7, 7)}

    def bn(prefix, c):
        for n in ("weight", "bias", "running_mean", "running_var"):
            keys[f"{prefix}.{n}"] = (c,)
        keys[f"{prefix}.num_batches_tracked"] = ()

    bn("bn1", 64)
    cin = 64
    for i, (n, w) in enumerate(zip(layers, (64, 128, 256, 512))):
        for j in range(n):
            p = f"layer{i + 1}.{j}"
            if bottleneck:
                keys[f"{p}.conv1.weight"] = (w, cin, 1, 1)
                bn(f"{p}.bn1", w)
                keys[f"{p}.conv2.weight"] = (w, w, 3, 3)
                bn(f"{p}.bn2", w)
                keys[f"{p}.conv3.weight"] = (w * 4, w, 1, 1)
                bn(f"{p}.bn3", w * 4)
            else:
                keys[f"{p}.conv1.weight"] = (w, cin, 3, 3)
                bn(f"{p}.bn1", w)
                keys[f"{p}.conv2.weight"] = (w, w, 3, 3)
                bn(f"{p}.bn2", w)
            if j == 0 and (i > 0 or cin != w * exp):
                keys[f"{p}.downsample.0.weight"] = (w * exp, cin, 1, 1)
                bn(f"{p}.downsample.1", w * exp)
            cin = w * exp
    keys["fc.weight"] = (1000, 512 * exp)
    keys["fc.bias"] = (1000,)
    return keys


def fake_state(depth: int) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(depth)
    return {k: (torch.randn(s, generator=g) if s else torch.tensor(7))
            for k, s in torchvision_resnet_keys(depth).items()}


@pytest.mark.parametrize("depth,count", [(18, 122), (50, 320)])
def test_reference_key_list_matches_torchvision_counts(depth, count):
    # torchvision's resnet18 / resnet50 state dicts hold 122 / 320 entries
    assert len(torchvision_resnet_keys(depth)) == count


@pytest.mark.parametrize("depth", [18, 50])
@pytest.mark.parametrize("suffix", [".pth", ".safetensors"])
def test_torchvision_state_dict_loads(tmp_path, depth, suffix):
    state = fake_state(depth)
    path = tmp_path / f"resnet{depth}{suffix}"
    if suffix == ".pth":
        torch.save(state, path)
    else:
        save_file(state, str(path))
    net = load_backbone_weights(build_backbone(f"resnet{depth}"), path)
    own = net.state_dict()
    for k, v in state.items():
        if not k.startswith("fc."):
            torch.testing.assert_close(own[k], v)


def test_mismatch_is_a_clear_error(tmp_path):
    state = fake_state(18)
    state["layer1.0.conv1.weight"] = torch.zeros(64, 64, 5, 5)
    del state["layer4.1.bn2.bias"]
    path = tmp_path / "bad.pth"
    torch.save(state, path)
    with pytest.raises(BackboneWeightsError, match="missing.*layer4.1.bn2.bias.*other shapes.*layer1.0.conv1"):
        load_backbone_weights(build_backbone("resnet18"), path)
    with pytest.raises(BackboneWeightsError, match="does not fit"):
        load_backbone_weights(build_backbone("resnet34"), tmp_path / "bad.pth")


class _Evil:
    def __reduce__(self):
        return (exec, ("import pathlib; pathlib.Path('PWNED').write_text('x')",))


def test_pickled_code_is_not_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "evil.pth"
    path.write_bytes(pickle.dumps({"conv1.weight": _Evil()}))
    with pytest.raises(BackboneWeightsError):
        load_backbone_weights(build_backbone("resnet18"), path)
    assert not (tmp_path / "PWNED").exists()


@pytest.mark.parametrize("name,os_,size,side", [
    ("resnet18", 32, 224, 7), ("resnet18", 16, 224, 14), ("resnet18", 8, 224, 28),
    ("resnet50", 8, 64, 8), ("small", 8, 96, 12), ("small", 4, 96, 24)])
def test_output_stride_by_dilation(name, os_, size, side):
    widths = (8, 16, 32, 64) if name != "small" else None
    net = build_backbone(name, widths, os_).eval()
    with torch.no_grad():
        y = net(torch.rand(1, 3, size, size))
    assert y.shape[-2:] == (side, side)
    assert net.output_stride == os_


def test_impossible_output_stride_and_unknown_backbone():
    with pytest.raises(ValueError, match="allowed"):
        build_backbone("small", None, 16)
    with pytest.raises(ValueError, match="unknown backbone"):
        build_backbone("resnet7")


def _receptive_field(net: torch.nn.Module, size: int = 96) -> int:
    """Side in pixels of the input region that moves the centre feature (measured by its gradient)."""
    torch.manual_seed(0)
    for m in net.modules():  # the zero-initialised residual branches would hide their convolutions
        if isinstance(m, torch.nn.BatchNorm2d):
            torch.nn.init.ones_(m.weight)
    x = torch.rand(1, 3, size, size, requires_grad=True)
    y = net.eval()(x)
    h, w = y.shape[-2:]
    y[0, :, h // 2, w // 2].sum().backward()
    cols = (x.grad.abs().sum(dim=(0, 1, 2)) > 0).nonzero()
    return int(cols.max() - cols.min() + 1)


def test_local_backbone_sees_less_than_an_item():
    local = build_backbone("local")
    assert local.output_stride == 4 and local.out_channels == 64
    assert _receptive_field(local) == 23  # 3 + 2*2*2 + 2*2 + 2*4: smaller than the 28 px smallest item
    assert _receptive_field(build_backbone("small")) == 96  # the default sees the whole canvas
