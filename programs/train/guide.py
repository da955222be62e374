"""Attention guidance, a warm-up for the cued tasks: glance 1 is pulled onto the cue and every later
glance onto the named item, with a weight that fades linearly to zero.

Why: on a cued canvas, reading the cue helps only together with a query that then picks the item
of the cue's colour, and that query helps only once the cue is read, so plain training finds no
first step towards the two-look solution (docs/findings.md). The guide shows the model where to
look for the first part of a run; after it, training is plain and the model keeps (or drops) the
habit on its own merit. A model trained with it is labelled so in its recipe (``train.guide_*``).
"""

from __future__ import annotations

import numpy as np
import torch

from model.metrics import box_weights

__all__ = ["guide_loss", "guide_weight_at"]

EPS = 1e-6


def _cover(boxes: np.ndarray, grid: tuple[int, int], image_size: tuple[int, int],
           device: torch.device) -> torch.Tensor:
    """The fraction of each attention cell inside each box, as ``model.metrics.box_mass`` reads
    it; a constant of the batch (no gradient flows through it), so numpy's version serves."""
    return torch.from_numpy(box_weights(boxes, grid, image_size)).to(device=device, dtype=torch.float32)


def guide_loss(attention: torch.Tensor, cue_box: tuple[int, int, int, int], item_boxes: torch.Tensor,
               image_size: tuple[int, int]) -> torch.Tensor:
    """Mean of -log(mass on the cue) over glance 1's heads and of -log(mass on the named item) over
    the later glances' heads. ``attention`` (B, N, heads, h, w); ``item_boxes`` (B, 4)."""
    _, n, _, h, w = attention.shape
    cue = _cover(np.asarray(cue_box), (h, w), image_size, attention.device)  # (h, w): the same for every canvas
    first = (attention[:, 0] * cue).sum(dim=(-2, -1))  # (B, heads)
    loss = -torch.log(first + EPS).mean()
    if n > 1:
        item = _cover(item_boxes.cpu().numpy(), (h, w), image_size, attention.device)  # (B, h, w)
        later = (attention[:, 1:] * item[:, None, None]).sum(dim=(-2, -1))  # (B, N-1, heads)
        loss = (loss - torch.log(later + EPS).mean()) / 2
    return loss


def guide_weight_at(step: int, total_steps: int, weight: float, fraction: float) -> float:
    """The guide's weight at optimizer ``step``: ``weight`` at the start, falling linearly to zero
    at ``fraction`` of the run, zero after."""
    end = fraction * total_steps
    if weight <= 0 or step >= end:
        return 0.0
    return weight * (1 - step / end)
