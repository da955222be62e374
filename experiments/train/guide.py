"""Attention guidance, a warm-up for the cued tasks: glance 1 is pulled onto the cue and every later
glance onto the named item, with a weight that fades linearly to zero.

Why: on a cued canvas, reading the cue helps only together with a query that then picks the item
of the cue's colour, and that query helps only once the cue is read, so plain training finds no
first step towards the two-look solution (docs/findings.md). The guide shows the model where to
look for the first part of a run; after it, training is plain and the model keeps (or drops) the
habit on its own merit. A model trained with it is labelled so in its recipe (``train.guide_*``).
"""

from __future__ import annotations

import torch

__all__ = ["cell_cover", "guide_loss", "guide_weight_at"]

EPS = 1e-6


def cell_cover(boxes: torch.Tensor, grid: tuple[int, int], image_size: tuple[int, int]) -> torch.Tensor:
    """(B, h, w): the fraction of each attention cell inside each box (B, 4) = (x0, y0, x1, y1) in
    image pixels, half-open; the cells tile the image evenly (as ``model.metrics.box_mass`` reads
    them), so summing attention times the cover gives the mass inside the box."""
    h, w = grid
    height, width = image_size
    boxes = boxes.to(torch.float32)

    def overlap(lo: torch.Tensor, hi: torch.Tensor, cells: int, extent: int) -> torch.Tensor:
        size = extent / cells
        starts = torch.arange(cells, device=boxes.device, dtype=torch.float32) * size
        inside = torch.minimum(hi[:, None], starts + size) - torch.maximum(lo[:, None], starts)
        return inside.clamp(min=0) / size  # (B, cells)

    along_x = overlap(boxes[:, 0], boxes[:, 2], w, width)
    along_y = overlap(boxes[:, 1], boxes[:, 3], h, height)
    return along_y[:, :, None] * along_x[:, None, :]


def guide_loss(attention: torch.Tensor, cue_box: tuple[int, int, int, int], item_boxes: torch.Tensor,
               image_size: tuple[int, int]) -> torch.Tensor:
    """Mean of -log(mass on the cue) over glance 1's heads and of -log(mass on the named item) over
    the later glances' heads. ``attention`` (B, N, heads, h, w); ``item_boxes`` (B, 4)."""
    b, n, _, h, w = attention.shape
    cue = cell_cover(torch.tensor([cue_box], device=attention.device).expand(b, 4), (h, w), image_size)
    first = (attention[:, 0] * cue[:, None]).sum(dim=(-2, -1))  # (B, heads)
    loss = -torch.log(first + EPS).mean()
    if n > 1:
        item = cell_cover(item_boxes.to(attention.device), (h, w), image_size)
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
