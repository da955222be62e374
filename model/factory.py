"""Build a model from its config alone."""

from __future__ import annotations

from torch import nn

from .baseline import BaselineResNet
from .config import ModelConfig
from .s3ta import S3TA

__all__ = ["build_model"]


def build_model(config: ModelConfig) -> nn.Module:
    """S3TA or the GAP baseline, as ``config.arch`` says."""
    return S3TA(config) if config.arch == "s3ta" else BaselineResNet(config)
