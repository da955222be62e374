r"""The inference form of a model: the same function, computed faster, for attacks and evaluation.

An attack never trains the model, so BatchNorm is a fixed affine map there and can be folded
into the convolution before it. With :math:`s = \gamma / \sqrt{\sigma^2 + \epsilon}` per output
channel, a convolution :math:`W, b` followed by BatchNorm :math:`(\mu, \sigma^2, \gamma, \beta)`
equals one convolution with

.. math:: W' = s\,W, \qquad b' = s\,(b - \mu) + \beta .

``inference_form(model)`` returns a copy of ``model`` (the same class, so the same surface:
``config``, ``metadata``, ``has_attention``, ``heads``, ``glances_for``...) with every such pair
folded, its parameters frozen, in eval mode, in the memory format that is fastest on the device,
and optionally compiled. Build it once per loaded model and share it read-only like the model.
Training keeps its own model: ``refold(form, model)`` copies the model's current weights, folded,
into an existing form once per optimizer step, in place (a compiled form keeps its graphs).
"""

from __future__ import annotations

import copy
from collections.abc import Iterator

import torch
from torch import nn

__all__ = ["inference_form", "refold", "fold_pairs", "folded_weights", "fastest_memory_format", "source_of"]


def fold_pairs(model: nn.Module) -> Iterator[tuple[str, str]]:
    """(convolution, BatchNorm) module names where the BatchNorm directly follows the
    convolution: ``convK``/``bnK`` siblings (the project's ResNet blocks and stem), consecutive
    entries of an ``nn.Sequential`` (the downsampling shortcuts), and the (conv, bn) child names a
    module lists in ``conv_bn_pairs`` (the EfficientNet-Lite trunk, whose names are the
    pretrained state dict's)."""
    for name, module in model.named_modules():
        prefix = f"{name}." if name else ""
        children = dict(module.named_children())
        for a, b in getattr(module, "conv_bn_pairs", ()):
            if isinstance(children.get(a), nn.Conv2d) and isinstance(children.get(b), nn.BatchNorm2d):
                yield prefix + a, prefix + b
        if isinstance(module, nn.Sequential):
            items = list(children.items())
            for (a, conv), (b, bn) in zip(items, items[1:]):
                if isinstance(conv, nn.Conv2d) and isinstance(bn, nn.BatchNorm2d):
                    yield prefix + a, prefix + b
            continue
        for child, conv in children.items():
            if child.startswith("conv") and isinstance(conv, nn.Conv2d):
                bn = children.get("bn" + child[len("conv"):])
                if isinstance(bn, nn.BatchNorm2d):
                    yield prefix + child, prefix + "bn" + child[len("conv"):]


def folded_weights(conv: nn.Conv2d, bn: nn.BatchNorm2d) -> tuple[torch.Tensor, torch.Tensor]:
    """(W', b') of the single convolution equal to ``bn(conv(x))`` with BatchNorm in eval mode."""
    if bn.running_mean is None or bn.running_var is None:
        raise ValueError("BatchNorm without running statistics cannot be folded")
    scale = torch.rsqrt(bn.running_var + bn.eps)  # (C,)
    if bn.weight is not None:
        scale = scale * bn.weight
    bias = conv.bias if conv.bias is not None else torch.zeros_like(bn.running_mean)
    shift = bn.bias if bn.bias is not None else torch.zeros_like(bn.running_mean)
    weight = conv.weight * scale.view(-1, *([1] * (conv.weight.ndim - 1)))  # (Cout, Cin, k, k)
    return weight, (bias - bn.running_mean) * scale + shift


def fastest_memory_format(device: torch.device | str) -> torch.memory_format:
    """channels_last: measured fastest for the folded model on this CPU (bench/README.md) and
    the layout cuDNN's tensor-core convolutions want on GPUs."""
    return torch.channels_last


def inference_form(model: nn.Module, memory_format: torch.memory_format | None = None,
                   compile: bool = False) -> nn.Module:
    """A frozen, eval-mode copy of ``model`` with every conv + BatchNorm pair folded.

    ``memory_format`` None picks ``fastest_memory_format`` for the model's device. With
    ``compile`` the copy's ``forward`` is ``torch.compile``d (one graph per glance count; tens
    of seconds per graph on a CPU). The copy is the model's own class, so every caller that
    takes a model takes it unchanged; ``source_of(form)`` is the model it came from.
    """
    model = getattr(model, "module", model)  # DDP-wrapped: fold the model inside
    device = next(model.parameters()).device
    form = copy.deepcopy(model).eval()
    modules = dict(form.named_modules())
    for conv_name, bn_name in list(fold_pairs(form)):
        conv = modules[conv_name]
        weight, bias = folded_weights(conv, modules[bn_name])
        conv.weight = nn.Parameter(weight.detach().clone())
        conv.bias = nn.Parameter(bias.detach().clone())
        parent, _, leaf = bn_name.rpartition(".")
        setattr(modules[parent] if parent else form, leaf, nn.Identity())
    form.requires_grad_(False)
    fmt = memory_format if memory_format is not None else fastest_memory_format(device)
    form = form.to(memory_format=fmt)  # the convolutions follow their weights' layout
    form._inference_source = [model]  # a list: not registered as a submodule, not in state_dict
    if compile:
        form.forward = torch.compile(form.forward, dynamic=False)
    return form


def source_of(form: nn.Module) -> nn.Module | None:
    """The model ``form`` was built from (None for a model that is not an inference form)."""
    source = getattr(form, "_inference_source", None)
    return source[0] if source else None


@torch.no_grad()
def refold(form: nn.Module, model: nn.Module) -> nn.Module:
    """Copy ``model``'s current weights into ``form`` (built from a model of the same config),
    folding every conv + BatchNorm pair, in place; returns ``form``."""
    model = getattr(model, "module", model)
    src = dict(model.named_modules())
    dst = dict(form.named_modules())
    folded = set()
    for conv_name, bn_name in fold_pairs(model):
        weight, bias = folded_weights(src[conv_name], src[bn_name])
        dst[conv_name].weight.copy_(weight)
        dst[conv_name].bias.copy_(bias)
        folded |= {f"{conv_name}.weight", f"{conv_name}.bias", f"{bn_name}.weight", f"{bn_name}.bias"}
    params = dict(form.named_parameters())
    buffers = dict(form.named_buffers())
    for name, p in model.named_parameters():
        if name not in folded:
            params[name].copy_(p)
    for name, b in model.named_buffers():
        if name in buffers:
            buffers[name].copy_(b)
    return form
