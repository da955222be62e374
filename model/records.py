"""Records of runs on a model, as plain arrays: what the computing layer returns and the drawing
layer draws (an attack with the drift of its iterates, a black-box attack with its drift over
queries, a glance grid, a per-image race, a budget sweep, a belief's path, a patch), and the box
of an object in an image. No torch, no computation: both layers import this, neither the other.

"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from .attacks import AttackConfig
from .inference import Prediction
from .square import SquareConfig

__all__ = ["Box", "Drift", "AttackRun", "GlanceGrid", "ImageRace", "PatchRun", "StrengthSweep", "BeliefPath",
           "SquareRun"]


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
class PatchRun:
    """An adversarial patch on one image: the patched image (H, W, 3), the clean and patched
    predictions, the patch's ``place`` as a box, the label and the target class, whether the
    target was reached, the steps taken and whether the run finished (False: stopped midway)."""

    image: np.ndarray
    clean: Prediction
    prediction: Prediction
    place: Box
    label: int
    target: int
    success: bool
    steps: int
    finished: bool
    seed: int
    glances: int


@dataclass(frozen=True)
class StrengthSweep:
    """One model's answers to one image attacked at each budget ``budgets_255`` (E,): the
    adversarial images (E, H, W, 3), whether each reached its goal, the class probabilities
    after the last glance (E, C), the last glance's attention maps (E, heads, h, w), the glance-
    and head-averaged attention mass in the item's box (E,) (None without a box), the largest
    change of a pixel value (E,) in /255, read at ``glances``."""

    model_name: str
    budgets_255: tuple[float, ...]
    label: int
    target: int
    targeted: bool
    has_attention: bool
    glances: int
    images: np.ndarray
    success: np.ndarray
    probs: np.ndarray
    attention: np.ndarray
    mass: np.ndarray | None
    linf_255: np.ndarray
    seconds: float

    @property
    def true_probs(self) -> np.ndarray:
        return self.probs[:, self.label]

    @property
    def target_probs(self) -> np.ndarray | None:
        """P(target) per budget; None when the attack aims at no class (untargeted)."""
        return self.probs[:, self.target] if self.targeted else None

    @property
    def predicted(self) -> np.ndarray:
        return self.probs.argmax(axis=1)


@dataclass(frozen=True)
class BeliefPath:
    """``points`` (N, 2): the state after each glance in the model's stored plane; ``predicted``
    (N,) the class read after each glance and ``confidence`` (N,) its probability."""

    points: np.ndarray
    predicted: np.ndarray
    confidence: np.ndarray


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
