"""The interval a proportion measured on n canvases carries, for the numbers the page quotes."""

from __future__ import annotations

import math

__all__ = ["wilson"]


def wilson(k: float, n: int, z: float = 1.96) -> tuple[float, float]:
    """The Wilson 95% interval (``z`` = 1.96) of ``k`` successes in ``n`` trials; k may be a
    share times n (an accuracy stored as a fraction of n canvases)."""
    if not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a whole number >= 1, got {n!r}")
    if not 0 <= k <= n:
        raise ValueError(f"k must be in [0, n={n}], got {k!r}")
    p = k / n
    centre, half = p + z * z / (2 * n), z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return max(0.0, (centre - half) / (1 + z * z / n)), min(1.0, (centre + half) / (1 + z * z / n))
