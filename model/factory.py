"""Build a model from its config alone: the one place that maps ``arch`` names to classes."""

from __future__ import annotations

from .baseline import BaselineResNet
from .classifier import Classifier
from .config import ModelConfig
from .photo_attention import PhotoAttention
from .s3ta import S3TA

__all__ = ["build_model", "ARCHITECTURES"]

ARCHITECTURES: dict[str, type[Classifier]] = {cls.arch: cls for cls in (S3TA, BaselineResNet, PhotoAttention)}


def build_model(config: ModelConfig) -> Classifier:
    """The model class registered under ``config.arch``."""
    if config.arch not in ARCHITECTURES:
        raise ValueError(f"arch must be one of {sorted(ARCHITECTURES)}, got {config.arch!r}")
    return ARCHITECTURES[config.arch](config)
