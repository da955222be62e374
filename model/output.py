"""The one output type of every model in the project, the same in train and eval."""

from __future__ import annotations

from typing import NamedTuple

import torch

__all__ = ["ModelOutput"]


class ModelOutput(NamedTuple):
    """``logits`` (B, C) after the last glance; ``step_logits`` (B, N, C) after each glance;
    ``attention`` (B, N, heads, h, w), each map summing to 1 over (h, w).

    The global-average-pooling baseline returns N = heads = 1 and a uniform map: average pooling
    is exactly attention spread evenly over all positions.
    """

    logits: torch.Tensor
    step_logits: torch.Tensor
    attention: torch.Tensor
