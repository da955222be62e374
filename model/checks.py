"""Input checks shared by every model and every caller: one place says what is allowed."""

from __future__ import annotations

import numpy as np
import torch

__all__ = ["MAX_GLANCES", "check_glances", "check_images", "check_image_array"]

MAX_GLANCES = 64


def check_glances(glances: int, limit: int = MAX_GLANCES) -> int:
    """``glances`` if it is an integer in [1, limit], else a ValueError that says so."""
    if not isinstance(glances, int) or isinstance(glances, bool) or not 1 <= glances <= limit:
        raise ValueError(f"glances must be an integer in [1, {limit}], got {glances!r}")
    return glances


def check_images(x: torch.Tensor) -> None:
    """A batch of float images (B, 3, H, W)."""
    if x.ndim != 4 or x.shape[1] != 3:
        raise ValueError(f"expected images of shape (B, 3, H, W), got {tuple(x.shape)}")
    if not x.is_floating_point():
        raise ValueError(f"expected float images in [0, 1], got dtype {x.dtype}")


def check_image_array(image: np.ndarray) -> None:
    """One (H, W, 3) image array, as the display code hands it around."""
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"expected an (H, W, 3) image, got shape {image.shape}")
