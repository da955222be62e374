"""The inference form (BatchNorm folded, channels last) computes what the model computes."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from model import ModelConfig, build_model, load_model
from model.checkpoint import DEFAULT_CHECKPOINT
from model.data import make_batch
from model.inference_form import fold_pairs, folded_weights, inference_form, refold, source_of

SHIPPED = ["s3ta_default", "s3ta_clean", "baseline_default"]


def assert_same_outputs(model: nn.Module, form: nn.Module, x: torch.Tensor, glances: int, atol: float = 1e-5):
    with torch.no_grad():
        a, b = model(x, glances=glances), form(x, glances=glances)
    for name in ("logits", "step_logits", "attention"):
        torch.testing.assert_close(getattr(b, name), getattr(a, name), rtol=0, atol=atol, msg=name)


def with_random_statistics(model: nn.Module, seed: int = 0) -> nn.Module:
    """BatchNorm with non-trivial running statistics and affine parameters (fresh models have
    mean 0, var 1, gamma 1 or 0, beta 0: folding them would test little)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.copy_(torch.randn(m.num_features, generator=g) * 0.3)
                m.running_var.copy_(torch.rand(m.num_features, generator=g) + 0.5)
                m.weight.copy_(torch.rand(m.num_features, generator=g) * 0.5 + 0.25)
                m.bias.copy_(torch.randn(m.num_features, generator=g) * 0.1)
    return model.eval()


@pytest.fixture(scope="module")
def batch():
    x, y, _ = make_batch("test", range(16), seed=0)
    return x, y


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_checkpoints_equal_their_inference_forms(name, batch):
    model = load_model(DEFAULT_CHECKPOINT.parent / f"{name}.safetensors")
    before = {k: v.clone() for k, v in model.state_dict().items()}
    form = inference_form(model)
    for glances in (1, 4, 8):
        assert_same_outputs(model, form, batch[0], glances)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in form.modules())
    assert not any(p.requires_grad for p in form.parameters()) and not form.training
    assert source_of(form) is model and source_of(model) is None
    # the model itself is untouched: same weights, its BatchNorms still there, still trainable
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert any(isinstance(m, nn.BatchNorm2d) for m in model.modules())
    assert all(p.requires_grad for p in model.parameters())
    # the same surface: callers take the form where they took the model
    assert form.config == model.config and form.metadata == model.metadata
    assert (form.has_attention, form.heads, form.max_glances, form.default_glances) == \
        (model.has_attention, model.heads, model.max_glances, model.default_glances)


@pytest.mark.parametrize("config", [
    ModelConfig(backbone_widths=(8, 16, 16), heads=2),
    ModelConfig(arch="baseline", backbone_widths=(8, 16, 16)),
    ModelConfig(backbone="resnet18", backbone_widths=(8, 8, 16, 16), output_stride=16, image_size=64),
    ModelConfig(backbone="resnet50", backbone_widths=(4, 8, 8, 8), output_stride=8, image_size=64, heads=1),
], ids=["small", "baseline", "resnet18-os16", "resnet50-os8"])
def test_every_backbone_folds_completely_and_exactly(config):
    model = with_random_statistics(build_model(config))
    n_bn = sum(isinstance(m, nn.BatchNorm2d) for m in model.modules())
    assert len(list(fold_pairs(model))) == n_bn  # every BatchNorm follows a convolution it folds into
    form = inference_form(model)
    x = torch.rand(3, 3, config.image_size, config.image_size)
    assert_same_outputs(model, form, x, glances=3, atol=1e-4)  # float32 rounding through random deep nets


def test_folded_weights_are_the_formula():
    conv, bn = nn.Conv2d(2, 3, 1, bias=True), nn.BatchNorm2d(3).eval()
    with torch.no_grad():
        bn.running_mean.copy_(torch.tensor([0.5, -1.0, 2.0]))
        bn.running_var.copy_(torch.tensor([4.0, 0.25, 1.0]))
        bn.weight.copy_(torch.tensor([2.0, 1.0, -1.0]))
        bn.bias.copy_(torch.tensor([0.0, 1.0, 3.0]))
    w, b = folded_weights(conv, bn)
    scale = torch.tensor([2.0, 1.0, -1.0]) / torch.sqrt(torch.tensor([4.0, 0.25, 1.0]) + bn.eps)
    torch.testing.assert_close(w, conv.weight * scale.view(3, 1, 1, 1))
    torch.testing.assert_close(b, (conv.bias - bn.running_mean) * scale + bn.bias)


def test_input_gradients_match(batch):
    """What an attack step uses: the loss gradient w.r.t. the input."""
    model = load_model()
    form = inference_form(model)
    x, y = batch

    def grad(m):
        xr = x.clone().requires_grad_(True)
        loss = F.cross_entropy(m(xr, glances=4).logits, y, reduction="sum")
        return torch.autograd.grad(loss, xr)[0]

    g_model, g_form = grad(model), grad(form)
    assert torch.allclose(g_form, g_model, rtol=1e-3, atol=1e-6)
    agree = (g_form.sign() == g_model.sign()).float().mean()
    assert agree > 0.999  # FGSM/PGD steps go the same way


def test_refold_follows_training_once_per_step():
    torch.manual_seed(0)
    model = with_random_statistics(build_model(ModelConfig(backbone_widths=(8, 16, 16), heads=2))).train()
    form = inference_form(model)
    opt = torch.optim.SGD(model.parameters(), lr=0.5)
    x, y, _ = make_batch("train", range(8))
    for _ in range(2):  # a training step moves weights and BatchNorm statistics
        opt.zero_grad()
        F.cross_entropy(model(x, glances=2).logits, y).backward()
        opt.step()
    stale = form(x, glances=2).logits
    assert refold(form, model) is form
    model.eval()
    assert_same_outputs(model, form, x, glances=2)
    assert not torch.allclose(stale, form(x, glances=2).logits)  # the refold did change it
    assert not any(p.requires_grad for p in form.parameters())
