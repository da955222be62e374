"""Where the pasted object is: a target for the head's attention on training scenes.

A composited scene knows its object's box; the target spreads one unit of attention over the
feature-map cells in proportion to the share of each cell the box covers (``model.metrics.box_weights``,
the same weights the held-out "attention in the box" is measured with). Learned on training
cut-outs and photographs, judged on held-out ones: it teaches the head to look at objects, which
the teacher's class alone does not (docs/photos.md).
"""

from __future__ import annotations

import numpy as np
import torch

from model.metrics import box_weights

__all__ = ["box_target"]


def box_target(boxes: np.ndarray, grid: tuple[int, int], image_size: tuple[int, int]) -> torch.Tensor:
    """(B, h, w) distributions over a (h, w) grid for boxes (B, 4) = (x0, y0, x1, y1) in pixels of
    an image of ``image_size`` (H, W): each cell's covered area over the box's."""
    weights = box_weights(np.asarray(boxes, dtype=np.float64), grid, image_size)
    total = weights.sum(axis=(-2, -1), keepdims=True)
    if (total <= 0).any():
        raise ValueError("a box covers no cell (empty or outside the image)")
    return torch.from_numpy(weights / total).float()
