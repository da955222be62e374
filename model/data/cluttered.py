"""Cluttered Fashion-MNIST: one tinted item among fragments of others on a noisy dark canvas.

Specification (the task other code generates data from):
- canvas 96x96 RGB float in [0, 1]; background a dark random colour with light noise;
- the item: a Fashion-MNIST image resized to a random side of 28-44 px, placed fully inside the
  canvas, tinted a random bright colour, composited with its intensity as opacity;
- clutter: 6-8 fragments, each a random 9-12 px crop of another item of the same split, tinted,
  at random positions (drawn before the item, so they may touch its box but never cover it);
- label: the item's class; box: the tight bounding box (x0, y0, x1, y1) of the item's visible
  pixels (intensity > 0.1), half-open, in canvas pixels;
- a canvas is a pure function of (split, index, seed): its generator is seeded with all three.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

__all__ = ["CANVAS", "Canvas", "render_canvas", "background", "composite", "item_box_and_mask", "check_request"]

CANVAS = 96
ITEM_SIDE = (28, 44)
FRAGMENTS = (6, 8)
FRAGMENT_SIDE = (9, 12)
BOX_THRESHOLD = 0.1
_SPLIT_IDS = {"train": 0, "test": 1}


@dataclass(frozen=True)
class Canvas:
    image: np.ndarray  # (96, 96, 3) float32 in [0, 1]
    label: int
    box: tuple[int, int, int, int]  # (x0, y0, x1, y1), half-open
    item_index: int
    mask: np.ndarray  # (96, 96) float32: the item's opacity on the canvas


def composite(canvas: np.ndarray, alpha: np.ndarray, colour: np.ndarray, x: int, y: int) -> None:
    """Paint ``colour`` onto ``canvas`` at (x, y) with opacity ``alpha`` (in place)."""
    h, w = alpha.shape
    region = canvas[y:y + h, x:x + w]
    a = alpha[..., None]
    region *= 1.0 - a
    region += a * colour


def background(rng: np.random.Generator) -> np.ndarray:
    """A dark random colour with light noise, (CANVAS, CANVAS, 3) float32: the spec's first draws."""
    canvas = rng.uniform(0.0, 0.25, size=3).astype(np.float32)[None, None, :] \
        + rng.uniform(0.0, 0.06, size=(CANVAS, CANVAS, 3)).astype(np.float32)
    return np.ascontiguousarray(canvas, dtype=np.float32)


def item_box_and_mask(alpha: np.ndarray, x: int, y: int) -> tuple[tuple[int, int, int, int], np.ndarray]:
    """The tight box of an item's visible pixels (opacity ``alpha`` placed at (x, y)) and its
    opacity on the whole canvas."""
    ys, xs = np.nonzero(alpha > BOX_THRESHOLD)
    box = (x + int(xs.min()), y + int(ys.min()), x + int(xs.max()) + 1, y + int(ys.max()) + 1)
    mask = np.zeros((CANVAS, CANVAS), np.float32)
    mask[y:y + alpha.shape[0], x:x + alpha.shape[1]] = alpha
    return box, mask


def check_request(images: np.ndarray, labels: np.ndarray, split: str, index: int) -> int:
    """The number of items, after checking a render request (split, index, images and labels)."""
    n = len(images)
    if split not in _SPLIT_IDS:
        raise ValueError(f"split must be one of {sorted(_SPLIT_IDS)}, got {split!r}")
    if not isinstance(index, (int, np.integer)) or index < 0:
        raise ValueError(f"index must be an integer >= 0, got {index!r}")
    if n == 0 or len(labels) != n:
        raise ValueError(f"need as many labels as images (>= 1), got {len(labels)} and {n}")
    return n


def render_canvas(images: np.ndarray, labels: np.ndarray, split: str, index: int,
                  seed: int = 0) -> Canvas:
    """Render canvas ``index`` of ``split``; the item is ``images[index % len(images)]``."""
    n = check_request(images, labels, split, index)
    rng = np.random.default_rng([seed, _SPLIT_IDS[split], index])
    canvas = background(rng)

    item = index % n
    for _ in range(rng.integers(FRAGMENTS[0], FRAGMENTS[1] + 1)):
        other = int(rng.integers(n - 1))
        other += other >= item  # another item than the labelled one
        side = int(rng.integers(FRAGMENT_SIDE[0], FRAGMENT_SIDE[1] + 1))
        cx, cy = rng.integers(0, 28 - side + 1, size=2)
        crop = images[other, cy:cy + side, cx:cx + side].astype(np.float32) / 255.0
        x, y = rng.integers(0, CANVAS - side + 1, size=2)
        composite(canvas, crop, rng.uniform(0.4, 1.0, size=3).astype(np.float32), int(x), int(y))

    side = int(rng.integers(ITEM_SIDE[0], ITEM_SIDE[1] + 1))
    alpha = cv2.resize(images[item], (side, side), interpolation=cv2.INTER_LINEAR)
    alpha = alpha.astype(np.float32) / 255.0
    x, y = (int(v) for v in rng.integers(0, CANVAS - side + 1, size=2))
    colour = rng.uniform(0.5, 1.0, size=3).astype(np.float32)
    colour[rng.integers(3)] = 1.0  # bright: at least one channel at full intensity
    composite(canvas, alpha, colour, x, y)

    box, mask = item_box_and_mask(alpha, x, y)
    np.clip(canvas, 0.0, 1.0, out=canvas)
    return Canvas(canvas, int(labels[item]), box, item, mask)
