"""Same-backbone baseline: global average pooling instead of attention, then a linear layer."""

from __future__ import annotations

import torch
from torch import nn

from .backbone import build_backbone
from .checks import check_glances, check_images
from .classifier import Classifier
from .config import ModelConfig
from .normalize import InputNormalize
from .output import ModelOutput

__all__ = ["BaselineResNet"]


class BaselineResNet(Classifier):
    """ResNet + GAP + linear classifier, returning the same ``ModelOutput`` as S3TA.

    Its "attention" is the uniform map that average pooling applies (1 glance, 1 head); the
    ``glances`` argument is accepted for a uniform API and ignored.
    """

    arch = "baseline"

    def __init__(self, config: ModelConfig) -> None:
        super().__init__(config)
        self.normalize = InputNormalize(config.mean, config.std)
        self.backbone = build_backbone(config.backbone, config.backbone_widths, config.output_stride)
        self.fc = nn.Linear(self.backbone.out_channels, config.num_classes)

    @property
    def feature_dim(self) -> int:
        return self.backbone.out_channels

    @property
    def state_dim(self) -> int:
        return self.backbone.out_channels

    def forward(self, x: torch.Tensor, glances: int | None = None) -> ModelOutput:
        check_images(x)
        if glances is not None:
            check_glances(glances)
        features = self.backbone(self.normalize(x))  # (B, C, h, w)
        b, _, h, w = features.shape
        pooled = features.mean(dim=(2, 3))  # (B, C)
        logits = self.fc(pooled)  # (B, classes)
        attention = features.new_full((b, 1, 1, h, w), 1.0 / (h * w))  # (B, 1, 1, h, w)
        return ModelOutput(logits, logits[:, None], attention, pooled, pooled[:, None])  # one "glance"
