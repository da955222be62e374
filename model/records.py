"""Records of runs on a model, as plain arrays: what the computing layer returns and the drawing
layer draws (an attack with the drift of its iterates, a black-box attack with its drift over
queries, a glance grid, a per-image race), and the
box of an object in an image. No torch, no computation: both layers import this, neither the other.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from .attacks import AttackConfig
from .inference import Prediction
from .square import SquareConfig

__all__ = ["Box", "Drift", "AttackRun", "GlanceGrid", "ImageRace", "SquareRun"]


class Box(NamedTuple):
    """An object's box in pixels: columns [x0, x1), rows [y0, y1)."""

    x0: int
    y0: int
    x1: int
    y1: int

    def scaled(self, factor: int) -> Box:
        return Box(*(factor * v for v in self))


@dataclass(frozen=True)
class Drift:
    """The attack's iterates (restart 0) at ``labels`` ("step k"; the last frame is always the
    returned adversarial image): images (S, H, W, 3), attention (S, N, heads, h, w) and class
    probabilities after the last glance (S, C)."""

    labels: list[str]
    images: np.ndarray
    attention: np.ndarray
    probs: np.ndarray


@dataclass(frozen=True)
class AttackRun:
    """The adversarial image (H, W, 3) in [0, 1], its prediction, the label attacked (true label
    or the clean prediction), the class aimed at, whether the attack reached it, the drift."""

    image: np.ndarray
    prediction: Prediction
    label: int
    target: int
    success: bool
    drift: Drift
    config: AttackConfig
    seed: int
    glances: int
    seconds: float

    def goal(self, class_names: Sequence[str]) -> str:
        """What the attack aimed at, in words: the target's name, or "a wrong class"."""
        return "a wrong class" if self.config.target == "untargeted" else class_names[self.target]


@dataclass(frozen=True)
class GlanceGrid:
    """Adversarial images crafted against each count in ``crafted``, each read at each count in
    ``evaluated`` without re-attacking. ``true_probs`` (C, E) is the true class's probability,
    ``predicted`` (C, E) the class predicted, ``clean_probs`` (E,) the clean image's true-class
    probability at each evaluated count, ``targets`` (C,) the class each attack aimed at."""

    crafted: tuple[int, ...]
    evaluated: tuple[int, ...]
    label: int
    true_probs: np.ndarray
    predicted: np.ndarray
    clean_probs: np.ndarray
    targets: tuple[int, ...]

    @property
    def recovered(self) -> np.ndarray:
        """(C, E) bool: the defender at that count predicts the true class again."""
        return self.predicted == self.label


@dataclass(frozen=True)
class ImageRace:
    """The computational race for one image: for each glance count an attack aimed at that
    count, and the true class's probability ``true_probs`` (G, S) after each of ``steps`` attack
    steps, read at the same count; ``predicted`` (G, S) the class."""

    glances: tuple[int, ...]
    steps: tuple[int, ...]
    label: int
    true_probs: np.ndarray
    predicted: np.ndarray


@dataclass(frozen=True)
class SquareRun:
    """A Square Attack (black box) on one image: the adversarial image (H, W, 3) in [0, 1], its
    prediction, the label attacked, the class aimed at, whether it reached it, the queries it
    used, whether it was stopped before it ended, and its best iterates over queries (``drift``,
    labels "query k"; the last frame is the returned image)."""

    image: np.ndarray
    prediction: Prediction
    label: int
    target: int
    success: bool
    queries: int
    stopped: bool
    drift: Drift
    config: SquareConfig
    seed: int
    glances: int
    seconds: float

    def goal(self, class_names: Sequence[str]) -> str:
        """What the attack aimed at, in words: the target's name, or "a wrong class"."""
        return "a wrong class" if self.config.target == "untargeted" else class_names[self.target]
