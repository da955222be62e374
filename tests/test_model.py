"""Shapes, attention normalisation, per-glance logits, input gradients, config validation."""

import pytest
import torch

from model import ModelConfig, ModelOutput, build_model

CONFIGS = {
    "small": ModelConfig(),
    "small-os4-2heads": ModelConfig(output_stride=4, heads=2, basis_size=3, glances=3),
    "resnet18-64px": ModelConfig(backbone="resnet18", image_size=64, backbone_widths=(8, 16, 32, 64)),
    "baseline-small": ModelConfig(arch="baseline"),
}


@pytest.mark.parametrize("name", CONFIGS)
def test_shapes_and_normalised_maps(name):
    cfg = CONFIGS[name]
    model = build_model(cfg).eval()
    x = torch.rand(2, 3, cfg.image_size, cfg.image_size)
    out = model(x)
    assert isinstance(out, ModelOutput)
    n = cfg.glances if cfg.arch == "s3ta" else 1
    heads = cfg.heads if cfg.arch == "s3ta" else 1
    stride = model.backbone.output_stride
    side = -(-cfg.image_size // stride)
    assert out.logits.shape == (2, cfg.num_classes)
    assert out.step_logits.shape == (2, n, cfg.num_classes)
    assert out.attention.shape == (2, n, heads, side, side)
    assert torch.isfinite(out.logits).all()
    torch.testing.assert_close(out.attention.sum(dim=(-2, -1)), torch.ones(2, n, heads))
    assert (out.attention >= 0).all()
    torch.testing.assert_close(out.logits, out.step_logits[:, -1])


def test_resnet50_224_output_stride_8_gives_28x28_maps():
    cfg = ModelConfig(backbone="resnet50", image_size=224, output_stride=8, num_classes=1000,
                      glances=2, heads=2)
    model = build_model(cfg).eval()
    with torch.no_grad():
        out = model(torch.rand(1, 3, 224, 224))
    assert out.attention.shape == (1, 2, 2, 28, 28)
    assert out.logits.shape == (1, 1000)


def test_same_weights_unroll_any_glance_count_and_steps_are_causal():
    model = build_model(ModelConfig()).eval()
    x = torch.rand(3, 3, 96, 96)
    with torch.no_grad():
        short, long = model(x, glances=3), model(x, glances=16)
    assert long.step_logits.shape[1] == 16 and long.attention.shape[1] == 16
    torch.testing.assert_close(short.step_logits, long.step_logits[:, :3])
    torch.testing.assert_close(short.attention, long.attention[:, :3])
    # glances actually change the computation
    assert not torch.allclose(long.step_logits[:, 0], long.step_logits[:, -1])


def test_gradients_reach_the_input_in_eval_mode():
    model = build_model(ModelConfig()).eval()
    x = torch.rand(2, 3, 96, 96, requires_grad=True)
    out = model(x, glances=4)
    grad, = torch.autograd.grad(out.logits[:, 0].sum(), x)
    assert grad.abs().sum() > 0
    assert all(p.grad is None for p in model.parameters())


def test_normalisation_is_inside_the_model():
    cfg = ModelConfig(mean=(0.5, 0.5, 0.5), std=(0.25, 0.25, 0.25))
    model = build_model(cfg).eval()
    x = torch.rand(1, 3, 96, 96)
    torch.testing.assert_close(model.normalize(x), (x - 0.5) / 0.25)


@pytest.mark.parametrize("glances", [0, -1, 65, 2.5])
def test_bad_glance_counts_are_refused(glances):
    model = build_model(ModelConfig()).eval()
    with pytest.raises(ValueError, match="glances"):
        model(torch.rand(1, 3, 96, 96), glances=glances)


def test_bad_inputs_are_refused():
    model = build_model(ModelConfig()).eval()
    with pytest.raises(ValueError, match="shape"):
        model(torch.rand(3, 96, 96))
    with pytest.raises(ValueError, match="float"):
        model(torch.zeros(1, 3, 96, 96, dtype=torch.uint8))


@pytest.mark.parametrize("bad", [dict(heads=0), dict(arch="vit"), dict(glances=-2), dict(std=(1, 0, 1))])
def test_bad_configs_are_refused(bad):
    with pytest.raises(ValueError):
        ModelConfig(**bad)


def test_config_round_trip_and_unknown_keys():
    cfg = ModelConfig(backbone_widths=(8, 16, 32), heads=2)
    assert ModelConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(ValueError, match="unknown"):
        ModelConfig.from_dict({**cfg.to_dict(), "colour": 3})
