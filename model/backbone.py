"""ResNet backbones written in the project, with torchvision's parameter names.

The late stages can trade stride for dilation (``output_stride``), so the same code gives 3x3 or
28x28 feature maps at 224 px, as in torchvision's ``replace_stride_with_dilation``. ``local`` is a
two-block net whose features see 23 px each (``small``: the whole 96 px canvas), so that one
position cannot take in a whole 28-44 px item (so that an answer needs several looks). Only the
feature extractor is built (no ``avgpool``/``fc``): S3TA and the baseline add their own heads.
"""

from __future__ import annotations

import math
from pathlib import Path

import torch
from torch import nn

__all__ = [
    "BasicBlock",
    "Bottleneck",
    "ResNet",
    "BACKBONES",
    "build_backbone",
    "load_backbone_weights",
    "BackboneWeightsError",
]


def _conv3x3(cin: int, cout: int, stride: int = 1, dilation: int = 1) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, 3, stride=stride, padding=dilation, dilation=dilation, bias=False)


def _conv1x1(cin: int, cout: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, 1, stride=stride, bias=False)


class BasicBlock(nn.Module):
    """Two 3x3 convolutions with a residual connection (ResNet-18/34)."""

    expansion = 1

    def __init__(self, cin: int, width: int, stride: int = 1, dilation: int = 1,
                 downsample: nn.Module | None = None) -> None:
        super().__init__()
        self.conv1 = _conv3x3(cin, width, stride, dilation)
        self.bn1 = nn.BatchNorm2d(width)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = _conv3x3(width, width, 1, dilation)
        self.bn2 = nn.BatchNorm2d(width)
        self.downsample = downsample

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


class Bottleneck(nn.Module):
    """1x1 -> 3x3 -> 1x1 block with 4x expansion (ResNet-50/101/152); stride on the 3x3."""

    expansion = 4

    def __init__(self, cin: int, width: int, stride: int = 1, dilation: int = 1,
                 downsample: nn.Module | None = None) -> None:
        super().__init__()
        self.conv1 = _conv1x1(cin, width)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = _conv3x3(width, width, stride, dilation)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = _conv1x1(width, width * self.expansion)
        self.bn3 = nn.BatchNorm2d(width * self.expansion)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + identity)


# name -> (block, blocks per stage, default widths, stem)
BACKBONES: dict[str, tuple[type[nn.Module], tuple[int, ...], tuple[int, ...], str]] = {
    "small": (BasicBlock, (2, 2, 2), (16, 32, 64), "small"),
    "local": (BasicBlock, (1, 1), (32, 64), "small"),  # receptive field 23 px, stride 4
    "resnet18": (BasicBlock, (2, 2, 2, 2), (64, 128, 256, 512), "imagenet"),
    "resnet34": (BasicBlock, (3, 4, 6, 3), (64, 128, 256, 512), "imagenet"),
    "resnet50": (Bottleneck, (3, 4, 6, 3), (64, 128, 256, 512), "imagenet"),
    "resnet101": (Bottleneck, (3, 4, 23, 3), (64, 128, 256, 512), "imagenet"),
    "resnet152": (Bottleneck, (3, 8, 36, 3), (64, 128, 256, 512), "imagenet"),
}


class ResNet(nn.Module):
    """ResNet feature extractor: stem, then stages ``layer1..layerK``; returns (B, C, h, w).

    The ``imagenet`` stem is torchvision's (7x7 stride 2 + max-pool, natural stride 32); the
    ``small`` stem is one 3x3 stride-2 convolution for 64-128 px images (natural stride 8).
    ``output_stride`` below the natural stride replaces the stride of the last stages by dilation.
    """

    def __init__(self, block: type[nn.Module], layers: tuple[int, ...], widths: tuple[int, ...],
                 stem: str = "imagenet", output_stride: int | None = None) -> None:
        super().__init__()
        if len(layers) != len(widths):
            raise ValueError(f"layers {layers} and widths {widths} must have the same length")
        if stem not in ("imagenet", "small"):
            raise ValueError(f"stem must be 'imagenet' or 'small', got {stem!r}")
        stem_stride = 4 if stem == "imagenet" else 2
        natural = stem_stride * 2 ** (len(layers) - 1)
        output_stride = natural if output_stride is None else output_stride
        allowed = [natural // 2**k for k in range(len(layers)) if natural // 2**k >= stem_stride]
        if output_stride not in allowed:
            raise ValueError(f"output_stride {output_stride} is not possible for this backbone; "
                             f"allowed: {sorted(allowed)}")
        n_dilated = int(math.log2(natural // output_stride))

        self.output_stride = output_stride
        width0 = widths[0]
        if stem == "imagenet":
            self.conv1 = nn.Conv2d(3, width0, 7, stride=2, padding=3, bias=False)
            self.maxpool: nn.Module = nn.MaxPool2d(3, stride=2, padding=1)
        else:
            self.conv1 = nn.Conv2d(3, width0, 3, stride=2, padding=1, bias=False)
            self.maxpool = nn.Identity()
        self.bn1 = nn.BatchNorm2d(width0)
        self.relu = nn.ReLU(inplace=True)

        self._cin = width0
        self._dilation = 1
        self.stage_names: list[str] = []
        for i, (n, w) in enumerate(zip(layers, widths)):
            stride = 1 if i == 0 else 2
            dilate = i >= len(layers) - n_dilated
            name = f"layer{i + 1}"
            self.add_module(name, self._make_layer(block, w, n, stride, dilate))
            self.stage_names.append(name)
        self.out_channels = self._cin
        self._init_weights()

    def _make_layer(self, block: type[nn.Module], width: int, n: int, stride: int,
                    dilate: bool) -> nn.Sequential:
        previous_dilation = self._dilation
        if dilate:
            self._dilation *= stride
            stride = 1
        out = width * block.expansion  # type: ignore[attr-defined]
        downsample = None
        if stride != 1 or self._cin != out:
            downsample = nn.Sequential(_conv1x1(self._cin, out, stride), nn.BatchNorm2d(out))
        blocks = [block(self._cin, width, stride, previous_dilation, downsample)]
        self._cin = out
        blocks += [block(out, width, 1, self._dilation) for _ in range(1, n)]
        return nn.Sequential(*blocks)

    def _init_weights(self) -> None:
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
        # Zero-init the last BN of each residual branch so blocks start as identities.
        for m in self.modules():
            if isinstance(m, Bottleneck):
                nn.init.zeros_(m.bn3.weight)
            elif isinstance(m, BasicBlock):
                nn.init.zeros_(m.bn2.weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))  # (B, C0, H/s, W/s)
        for name in self.stage_names:
            x = getattr(self, name)(x)
        return x  # (B, out_channels, H/os, W/os)


def build_backbone(name: str, widths: tuple[int, ...] | None = None,
                   output_stride: int | None = None) -> ResNet:
    """Build a named backbone (see ``BACKBONES``), optionally with other stage widths."""
    if name not in BACKBONES:
        raise ValueError(f"unknown backbone {name!r}; choose one of {sorted(BACKBONES)}")
    block, layers, default_widths, stem = BACKBONES[name]
    widths = tuple(widths) if widths is not None else default_widths
    if len(widths) != len(layers):
        raise ValueError(f"backbone {name!r} has {len(layers)} stages; got widths {widths}")
    return ResNet(block, layers, widths, stem, output_stride)


class BackboneWeightsError(ValueError):
    """A backbone state dict does not match the backbone it is loaded into."""


def load_backbone_weights(backbone: ResNet, path: str | Path,
                          map_location: str | torch.device = "cpu") -> ResNet:
    """Load a torchvision-format ResNet state dict (``.pth`` or ``.safetensors``) into ``backbone``.

    The classifier (``fc.*``) is ignored; any other missing, unexpected or mis-shaped tensor
    raises ``BackboneWeightsError`` naming it. ``.pth`` files are read with ``weights_only=True``,
    so no code in the file runs.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"backbone weights not found: {path}")
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file
        state = load_file(str(path), device=str(map_location))
    else:
        try:
            state = torch.load(path, map_location=map_location, weights_only=True)
        except Exception as exc:  # noqa: BLE001 - any unpickling failure is the same user error
            raise BackboneWeightsError(f"{path} is not a plain tensor state dict: {exc}") from exc
        if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
            state = state["state_dict"]
    if not isinstance(state, dict):
        raise BackboneWeightsError(f"{path} does not hold a state dict")
    state = {k.removeprefix("module."): v for k, v in state.items() if not k.startswith(("fc.", "module.fc."))}
    own = backbone.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    shapes = [f"{k}: file {tuple(state[k].shape)} vs model {tuple(own[k].shape)}"
              for k in own if k in state and state[k].shape != own[k].shape]
    if missing or unexpected or shapes:
        parts = []
        if missing:
            parts.append(f"{len(missing)} missing (e.g. {missing[:3]})")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected (e.g. {unexpected[:3]})")
        if shapes:
            parts.append(f"{len(shapes)} with other shapes (e.g. {shapes[:2]})")
        raise BackboneWeightsError(f"{path} does not fit this backbone: " + "; ".join(parts))
    backbone.load_state_dict(state)
    return backbone
