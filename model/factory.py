"""Build a model from its config alone: the one place that maps ``arch`` names to classes."""

from __future__ import annotations

from . import baseline, photo_attention, s3ta  # noqa: F401  (importing a model class registers it)
from .classifier import Classifier
from .config import ModelConfig
from .registry import ARCHITECTURES, check_arch

__all__ = ["build_model", "ARCHITECTURES"]


def build_model(config: ModelConfig) -> Classifier:
    """The model class registered under ``config.arch``."""
    return ARCHITECTURES[check_arch(config.arch)](config)
