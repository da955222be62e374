"""Summary statistics of input images, stored in checkpoints so the app can tell when an
upload is far from what the model was trained on."""

from __future__ import annotations

import numpy as np

__all__ = ["image_stats", "input_stats", "STAT_NAMES"]

STAT_NAMES = ("mean", "std", "saturation", "dark_fraction")


def image_stats(images: np.ndarray) -> dict[str, np.ndarray]:
    """Per image of (..., H, W, 3) in [0, 1]: grey mean, grey std, mean colour saturation
    (max - min channel) and the fraction of near-black pixels; each (...)."""
    images = np.asarray(images, dtype=np.float32)
    if images.ndim < 3 or images.shape[-1] != 3:
        raise ValueError(f"expected (..., H, W, 3) images, got shape {images.shape}")
    grey = images.mean(axis=-1)
    return {"mean": grey.mean(axis=(-2, -1)), "std": grey.std(axis=(-2, -1)),
            "saturation": (images.max(axis=-1) - images.min(axis=-1)).mean(axis=(-2, -1)),
            "dark_fraction": (grey < 0.1).mean(axis=(-2, -1))}


def input_stats(images: np.ndarray) -> dict[str, dict[str, float]]:
    """Mean and spread over a batch (B, H, W, 3) of each statistic: the checkpoint's
    ``input_stats`` metadata."""
    per = image_stats(images)
    return {k: {"mean": float(v.mean()), "std": float(v.std())} for k, v in per.items()}
