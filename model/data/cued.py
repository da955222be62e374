"""Cued Fashion-MNIST: three tinted items; a colour cue in the corner says which one to name.

A harder variant of the cluttered task, made so that one look cannot answer it: which item
counts is decided by the cue, away from every item, so a reader must first look at the cue and
then at the item of the cue's colour (issue 11's "objects that need more than one look").

Specification (the task other code generates data from):
- canvas 96x96 RGB float in [0, 1]; background a dark random colour with light noise, as in
  the cluttered task;
- clutter: 4-6 fragments, each a random 9-12 px crop of an item of the split that is none of the
  three below, tinted a random dull colour (channels in [0.3, 0.7]), at random positions;
- three items of three different classes: the labelled one, ``images[index % n]``, and two others
  drawn at random; each resized to a random side of 26-34 px and tinted one of the six
  ``PALETTE`` colours (three different colours, in random order), composited with its intensity
  as opacity, drawn after the clutter and in this order: distractor, distractor, labelled item;
- placement: each item's square lies fully inside the canvas, outside the cue corner
  ``[0, CUE_CLEAR) x [0, CUE_CLEAR)`` and not overlapping the other items' squares (the first
  of 200 random positions that fits; should none fit, the fixed slots ``FALLBACK_SLOTS``);
- the cue: the square ``[0, CUE_SIDE) x [0, CUE_SIDE)`` filled with the labelled item's colour,
  drawn last;
- label: the labelled item's class; box: the tight bounding box (x0, y0, x1, y1) of its visible
  pixels (intensity > 0.1), half-open, in canvas pixels; mask: its opacity;
- a canvas is a pure function of (split, index, seed): its generator is seeded with all three.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from .cluttered import BOX_THRESHOLD, CANVAS, FRAGMENT_SIDE, Canvas, check_request, composite

__all__ = ["PALETTE", "CUE_SIDE", "CUE_CLEAR", "CuedLayout", "cued_layout", "cued_scene", "render_cued_canvas"]

PALETTE = np.array([[1.0, 0.2, 0.2], [0.2, 1.0, 0.2], [0.3, 0.4, 1.0],
                    [1.0, 1.0, 0.2], [1.0, 0.2, 1.0], [0.2, 1.0, 1.0]], np.float32)
CUE_SIDE = 12
CUE_CLEAR = 16
ITEM_SIDE = (26, 34)
ITEMS = 3
FRAGMENTS = (4, 6)
TRIES = 200
FALLBACK_SLOTS = ((60, 2), (2, 60), (60, 60))  # (x, y): pairwise apart and clear of the cue for sides <= 34
_SPLIT_SEEDS = {"train": 10, "test": 11}  # not the cluttered task's streams


def _overlaps(a: tuple[int, int, int], b: tuple[int, int, int]) -> bool:
    (ax, ay, aside), (bx, by, bside) = a, b
    return ax < bx + bside and bx < ax + aside and ay < by + bside and by < ay + aside


def _place(rng: np.random.Generator, sides: list[int]) -> list[tuple[int, int]]:
    placed: list[tuple[int, int, int]] = []
    for side in sides:
        for _ in range(TRIES):
            x, y = (int(v) for v in rng.integers(0, CANVAS - side + 1, size=2))
            square = (x, y, side)
            if (x >= CUE_CLEAR or y >= CUE_CLEAR) and not any(_overlaps(square, p) for p in placed):
                placed.append(square)
                break
        else:
            return list(FALLBACK_SLOTS[:len(sides)])
    return [(x, y) for x, y, _ in placed]


def _others(rng: np.random.Generator, labels: np.ndarray, item: int, count: int) -> list[int]:
    """``count`` item indices whose classes differ from ``item``'s and from each other's."""
    chosen: list[int] = []
    taken = {int(labels[item])}
    while len(chosen) < count:
        other = int(rng.integers(len(labels)))
        if int(labels[other]) not in taken:
            chosen.append(other)
            taken.add(int(labels[other]))
    return chosen


@dataclass(frozen=True)
class CuedLayout:
    """What a cued canvas shows, before painting: the items (named one last) and the clutter."""

    items: tuple[int, ...]  # indices into the split; the named item last
    sides: tuple[int, ...]
    colours: np.ndarray  # (ITEMS, 3) palette rows, the named item's last (the cue's)
    positions: tuple[tuple[int, int], ...]  # (x, y) of each item's square
    fragments: tuple[tuple[int, int, int, int, int, int, np.ndarray], ...]  # (item, side, cx, cy, x, y, colour)


def cued_layout(rng: np.random.Generator, labels: np.ndarray, item: int) -> CuedLayout:
    """Draw the layout of a canvas naming ``item`` (the generator advances as the spec's order says)."""
    n = len(labels)
    distractors = _others(rng, labels, item, ITEMS - 1)
    shown = {item, *distractors}
    fragments = []
    for _ in range(rng.integers(FRAGMENTS[0], FRAGMENTS[1] + 1)):
        other = int(rng.integers(n))
        while other in shown:
            other = int(rng.integers(n))
        side = int(rng.integers(FRAGMENT_SIDE[0], FRAGMENT_SIDE[1] + 1))
        cx, cy = (int(v) for v in rng.integers(0, 28 - side + 1, size=2))
        x, y = (int(v) for v in rng.integers(0, CANVAS - side + 1, size=2))
        fragments.append((other, side, cx, cy, x, y, rng.uniform(0.3, 0.7, size=3).astype(np.float32)))
    sides = tuple(int(s) for s in rng.integers(ITEM_SIDE[0], ITEM_SIDE[1] + 1, size=ITEMS))
    colours = PALETTE[rng.permutation(len(PALETTE))[:ITEMS]]
    return CuedLayout((*distractors, item), sides, colours, tuple(_place(rng, list(sides))), tuple(fragments))


def render_cued_canvas(images: np.ndarray, labels: np.ndarray, split: str, index: int,
                       seed: int = 0) -> Canvas:
    """Render cued canvas ``index`` of ``split``; the named item is ``images[index % len(images)]``."""
    return cued_scene(images, labels, split, index, seed)[0]


def cued_scene(images: np.ndarray, labels: np.ndarray, split: str, index: int,
               seed: int = 0) -> tuple[Canvas, CuedLayout]:
    """The cued canvas and its layout (where the distractors are, for measuring attention on them)."""
    n = check_request(images, labels, split, index)
    if len(np.unique(labels)) < ITEMS:
        raise ValueError(f"the cued task needs items of at least {ITEMS} classes")
    rng = np.random.default_rng([seed, _SPLIT_SEEDS[split], index])
    canvas = rng.uniform(0.0, 0.25, size=3).astype(np.float32)[None, None, :] \
        + rng.uniform(0.0, 0.06, size=(CANVAS, CANVAS, 3)).astype(np.float32)
    canvas = np.ascontiguousarray(canvas, dtype=np.float32)
    layout = cued_layout(rng, labels, index % n)
    for other, side, cx, cy, x, y, colour in layout.fragments:
        composite(canvas, images[other, cy:cy + side, cx:cx + side].astype(np.float32) / 255.0, colour, x, y)
    for i, side, colour, (x, y) in zip(layout.items, layout.sides, layout.colours, layout.positions):
        alpha = cv2.resize(images[i], (side, side), interpolation=cv2.INTER_LINEAR).astype(np.float32) / 255.0
        composite(canvas, alpha, colour, x, y)
    canvas[:CUE_SIDE, :CUE_SIDE] = layout.colours[-1]

    ys, xs = np.nonzero(alpha > BOX_THRESHOLD)  # the named item: painted last
    box = (x + int(xs.min()), y + int(ys.min()), x + int(xs.max()) + 1, y + int(ys.max()) + 1)
    mask = np.zeros((CANVAS, CANVAS), np.float32)
    mask[y:y + side, x:x + side] = alpha
    np.clip(canvas, 0.0, 1.0, out=canvas)
    return Canvas(canvas, int(labels[layout.items[-1]]), box, layout.items[-1], mask), layout
