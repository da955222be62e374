"""Statistics of paired comparisons: two classifiers scored on the same canvases, and a
difference repeated over training seeds. Plain numbers in, plain numbers out (no torch).

Two accuracies measured on the same canvases are correlated (most canvases are right or wrong
for both), so the question "is B more accurate than A" is answered by the canvases where they
disagree: McNemar's exact test (a two-sided binomial test on the discordant pairs) and a
bootstrap interval of the difference that resamples canvases, keeping each canvas's pair
together. Across training seeds the unit is the seed: the mean of the per-seed differences with
a Student t interval.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np

__all__ = ["Paired", "SeedSummary", "mcnemar_exact", "paired_bootstrap", "paired", "t_quantile",
           "seed_summary", "wilson"]


def _outcomes(a: Sequence[bool] | np.ndarray, b: Sequence[bool] | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Both outcome vectors as bool arrays of one length (>= 1), else a ValueError."""
    a, b = np.asarray(a), np.asarray(b)
    if a.ndim != 1 or a.shape != b.shape or a.size == 0:
        raise ValueError(f"need two outcome vectors of the same length >= 1, got shapes {a.shape} and {b.shape}")
    for name, v in (("a", a), ("b", b)):
        if v.dtype != bool and not np.isin(v, (0, 1)).all():
            raise ValueError(f"{name} must hold 0/1 or bool outcomes (correct per canvas)")
    return a.astype(bool), b.astype(bool)


def mcnemar_exact(a: Sequence[bool] | np.ndarray, b: Sequence[bool] | np.ndarray) -> float:
    """Two-sided exact McNemar p-value: under "A and B are equally accurate" each canvas where
    exactly one is right is A's with probability 1/2, so the smaller discordant count is
    Binomial(discordant, 1/2); p = 2 P(X <= min), capped at 1 (1 when they never disagree)."""
    a, b = _outcomes(a, b)
    only_a, only_b = int((a & ~b).sum()), int((~a & b).sum())
    n, k = only_a + only_b, min(only_a, only_b)
    if n == 0:
        return 1.0
    tail = sum(math.comb(n, i) for i in range(k + 1))  # exact integers: no underflow at large n
    return min(1.0, 2 * tail / 2 ** n)


def paired_bootstrap(a: Sequence[float] | np.ndarray, b: Sequence[float] | np.ndarray, resamples: int = 10_000,
                     seed: int = 0, level: float = 0.95) -> tuple[float, float]:
    """Percentile bootstrap interval of mean(b) - mean(a), resampling canvases (pairs kept
    together). The per-canvas difference takes few values ({-1, 0, 1} for outcomes), so a
    resample is drawn as multinomial counts of those values: the same distribution as drawing
    canvases with replacement, at a cost independent of the number of canvases."""
    d = np.asarray(b, dtype=float) - np.asarray(a, dtype=float)
    if d.ndim != 1 or d.size == 0 or np.asarray(a).shape != np.asarray(b).shape:
        raise ValueError("need two score vectors of the same length >= 1")
    if not (isinstance(resamples, int) and resamples >= 100):
        raise ValueError(f"resamples must be an integer >= 100, got {resamples!r}")
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level!r}")
    values, counts = np.unique(d, return_counts=True)
    rng = np.random.default_rng(seed)
    means = rng.multinomial(d.size, counts / d.size, size=resamples) @ values / d.size  # (resamples,)
    lo, hi = np.quantile(means, [(1 - level) / 2, (1 + level) / 2])
    return float(lo), float(hi)


def wilson(p: float, n: int, z: float = 1.96) -> tuple[float, float]:
    """95% Wilson score interval of a proportion ``p`` measured on ``n`` examples."""
    if not (isinstance(n, int) and n >= 1) or not 0 <= p <= 1:
        raise ValueError(f"need a proportion in [0, 1] and n >= 1, got {p!r} and {n!r}")
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


@dataclass(frozen=True)
class Paired:
    """A and B on the same ``n`` canvases: accuracies, B - A with its paired bootstrap interval,
    the discordant counts and McNemar's exact p."""

    n: int
    acc_a: float
    acc_b: float
    diff: float
    diff_lo: float
    diff_hi: float
    only_a: int  # canvases A gets right and B wrong
    only_b: int
    p_mcnemar: float

    def as_dict(self) -> dict[str, float | int]:
        return asdict(self)


def paired(a: Sequence[bool] | np.ndarray, b: Sequence[bool] | np.ndarray, resamples: int = 10_000,
           seed: int = 0) -> Paired:
    """The paired comparison of two per-canvas outcome vectors (True: correct)."""
    a, b = _outcomes(a, b)
    lo, hi = paired_bootstrap(a, b, resamples, seed)
    return Paired(int(a.size), float(a.mean()), float(b.mean()), float(b.mean() - a.mean()), lo, hi,
                  int((a & ~b).sum()), int((~a & b).sum()), mcnemar_exact(a, b))


def _t_two_sided_mass(t: float, df: int) -> float:
    """P(|T| <= t) for Student's t with integer ``df`` (the closed-form series in theta =
    atan(t / sqrt(df)); Abramowitz & Stegun 26.7.3-4)."""
    theta = math.atan(t / math.sqrt(df))
    c2, s = math.cos(theta) ** 2, math.sin(theta)
    if df % 2:  # odd: 2/pi (theta + sin cos (1 + 2/3 cos^2 + 2.4/3.5 cos^4 + ...))
        term, total = 1.0, 1.0 if df > 1 else 0.0
        for k in range(1, (df - 1) // 2):
            term *= 2 * k / (2 * k + 1) * c2
            total += term
        return 2 / math.pi * (theta + s * math.cos(theta) * total)
    term, total = 1.0, 1.0  # even: sin (1 + 1/2 cos^2 + 1.3/2.4 cos^4 + ...)
    for k in range(1, df // 2):
        term *= (2 * k - 1) / (2 * k) * c2
        total += term
    return s * total


def t_quantile(p: float, df: int) -> float:
    """The ``p`` quantile (p > 0.5) of Student's t with integer ``df`` >= 1, by bisection."""
    if not (isinstance(df, int) and df >= 1) or not 0.5 < p < 1:
        raise ValueError(f"need p in (0.5, 1) and an integer df >= 1, got {p!r} and {df!r}")
    mass = 2 * p - 1  # P(|T| <= q)
    lo, hi = 0.0, 1.0
    while _t_two_sided_mass(hi, df) < mass:
        hi *= 2
    for _ in range(200):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if _t_two_sided_mass(mid, df) < mass else (lo, mid)
        if hi - lo < 1e-12:
            break
    return (lo + hi) / 2


@dataclass(frozen=True)
class SeedSummary:
    """Per-seed differences, their mean, the sample standard deviation (the seed-to-seed spread)
    and the mean's t interval (None with one seed: no spread is measured)."""

    diffs: tuple[float, ...]
    mean: float
    sd: float | None
    lo: float | None
    hi: float | None

    def as_dict(self) -> dict[str, object]:
        return {**asdict(self), "diffs": list(self.diffs), "seeds": len(self.diffs)}


def seed_summary(diffs: Sequence[float], level: float = 0.95) -> SeedSummary:
    """Mean of per-seed differences with its Student t interval over seeds."""
    d = np.asarray(diffs, dtype=float)
    if d.ndim != 1 or d.size == 0:
        raise ValueError("need at least one per-seed difference")
    mean = float(d.mean())
    if d.size == 1:
        return SeedSummary(tuple(map(float, d)), mean, None, None, None)
    sd = float(d.std(ddof=1))
    half = t_quantile((1 + level) / 2, d.size - 1) * sd / math.sqrt(d.size)
    return SeedSummary(tuple(map(float, d)), mean, sd, mean - half, mean + half)
