"""Input normalization as a module with buffers, so everything outside works in [0, 1] pixels."""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["InputNormalize"]


class InputNormalize(nn.Module):
    """(x - mean) / std per channel; x is (B, 3, H, W) in [0, 1]."""

    def __init__(self, mean: tuple[float, ...], std: tuple[float, ...]) -> None:
        super().__init__()
        self.register_buffer("mean", torch.tensor(mean).view(1, -1, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(std).view(1, -1, 1, 1), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std
