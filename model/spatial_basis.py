"""Fixed Fourier spatial basis (Mott et al. 2019) concatenated to keys and values.

Channel (u, v) is cos(pi * u * (x + 1/2) / w) * cos(pi * v * (y + 1/2) / h) for u, v in
0..size-1: the 2-D DCT-II basis, so channels are orthogonal over the grid and channel (u, v)
has exactly u half-periods across x and v across y. Queries can then ask "where" as well as "what".
"""

from __future__ import annotations

import math

import torch
from torch import nn

__all__ = ["fourier_basis", "SpatialBasis"]


def fourier_basis(h: int, w: int, size: int) -> torch.Tensor:
    """Return the (size*size, h, w) basis; channel index is u * size + v (u: x freq, v: y freq)."""
    if min(h, w, size) < 1:
        raise ValueError(f"h, w and size must be >= 1, got {(h, w, size)}")
    freqs = torch.arange(size, dtype=torch.float64)
    xs = (torch.arange(w, dtype=torch.float64) + 0.5) / w
    ys = (torch.arange(h, dtype=torch.float64) + 0.5) / h
    cos_x = torch.cos(math.pi * freqs[:, None] * xs[None, :])  # (size, w)
    cos_y = torch.cos(math.pi * freqs[:, None] * ys[None, :])  # (size, h)
    basis = cos_x[:, None, None, :] * cos_y[None, :, :, None]  # (u, v, h, w)
    return basis.reshape(size * size, h, w).float()


class SpatialBasis(nn.Module):
    """Concatenates the basis to a (B, C, h, w) map; the basis is cached per (h, w)."""

    def __init__(self, size: int) -> None:
        super().__init__()
        if not isinstance(size, int) or size < 1:
            raise ValueError(f"size must be an integer >= 1 (the basis is size x size), got {size!r}")
        self.size = size
        self.channels = size * size
        self._cache: dict[tuple[int, int, torch.device, torch.dtype], torch.Tensor] = {}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, _, h, w = x.shape
        key = (h, w, x.device, x.dtype)
        basis = self._cache.get(key)
        if basis is None:
            basis = fourier_basis(h, w, self.size).to(device=x.device, dtype=x.dtype)
            self._cache[key] = basis
        return torch.cat([x, basis.expand(b, -1, -1, -1)], dim=1)  # (B, C + size^2, h, w)
