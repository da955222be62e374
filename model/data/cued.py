"""Cued Fashion-MNIST: three tinted items; a colour cue away from them says which one to name.

A harder variant of the cluttered task, made so that one look cannot answer it: which item
counts is decided by the cue, away from every item, so a reader must first look at the cue and
then at the item of the cue's colour: an object that needs more than one look.

Specification (the task other code generates data from):
- canvas 96x96 RGB float in [0, 1]; background a dark random colour with light noise, as in
  the cluttered task;
- clutter: 4-6 fragments, each a random 9-12 px crop of an item of the split that is none of the
  three below, tinted a random dull colour (channels in [0.3, 0.7]), at random positions;
- three items of three different classes: the labelled one, ``images[index % n]``, and two others
  drawn at random; each resized to a random side of 26-34 px and tinted one of the six
  ``PALETTE`` colours (three different colours, in random order), composited with its intensity
  as opacity, drawn after the clutter and in this order: distractor, distractor, labelled item;
- the cue, in one of two styles (two tasks): ``corner`` (task ``cued-fashion-mnist``), the
  square ``[0, 12) x [0, 12)``; ``strip`` (task ``cued-strip-fashion-mnist``), the full-height
  strip ``[0, 12) x [0, 96)`` (x range first), eight times the corner's area. It is filled with the
  labelled item's colour and drawn last;
- placement: each item's square lies fully inside the canvas, clear of the cue's keep-out
  rectangle (corner: ``[0, 16) x [0, 16)``; strip: ``[0, 16) x [0, 96)``) and not overlapping the
  other items' squares (the first of 200 random positions that fits; should none fit, the
  style's fixed fallback slots);
- label: the labelled item's class; box: the tight bounding box (x0, y0, x1, y1) of its visible
  pixels (intensity > 0.1), half-open, in canvas pixels; mask: its opacity;
- a canvas is a pure function of (split, index, seed): its generator is seeded with all three.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from .cluttered import CANVAS, FRAGMENT_SIDE, Canvas, background, check_request, composite, item_box_and_mask

__all__ = ["PALETTE", "CUE_STYLES", "CUED_TASKS", "CueStyle", "CuedLayout", "cued_layout", "cued_scene",
           "render_cued_canvas"]

PALETTE = np.array([[1.0, 0.2, 0.2], [0.2, 1.0, 0.2], [0.3, 0.4, 1.0],
                    [1.0, 1.0, 0.2], [1.0, 0.2, 1.0], [0.2, 1.0, 1.0]], np.float32)
ITEM_SIDE = (26, 34)
ITEMS = 3
FRAGMENTS = (4, 6)
TRIES = 200
_SPLIT_SEEDS = {"train": 10, "test": 11}  # not the cluttered task's streams


@dataclass(frozen=True)
class CueStyle:
    """Where the cue is, the rectangle items keep clear of, and where items go if nothing fits."""

    cue: tuple[int, int, int, int]  # (x0, y0, x1, y1), half-open: the cue's pixels
    keep_out: tuple[int, int]  # items' squares avoid [0, keep_out[0]) x [0, keep_out[1])
    fallback: tuple[tuple[int, int], ...]  # (x, y) slots: pairwise apart and clear for sides <= 34

    def clear(self, x: int, y: int) -> bool:
        """Whether an item square whose top-left corner is (x, y) avoids the keep-out rectangle."""
        return x >= self.keep_out[0] or y >= self.keep_out[1]


CUE_STYLES = {
    "corner": CueStyle((0, 0, 12, 12), (16, 16), ((60, 2), (2, 60), (60, 60))),
    "strip": CueStyle((0, 0, 12, CANVAS), (16, CANVAS), ((16, 2), (60, 2), (16, 60))),
}
CUED_TASKS = {"cued-fashion-mnist": "corner", "cued-strip-fashion-mnist": "strip"}  # task name -> cue style


def _overlaps(a: tuple[int, int, int], b: tuple[int, int, int]) -> bool:
    (ax, ay, aside), (bx, by, bside) = a, b
    return ax < bx + bside and bx < ax + aside and ay < by + bside and by < ay + aside


def _place(rng: np.random.Generator, sides: list[int], style: CueStyle) -> list[tuple[int, int]]:
    placed: list[tuple[int, int, int]] = []
    for side in sides:
        for _ in range(TRIES):
            x, y = (int(v) for v in rng.integers(0, CANVAS - side + 1, size=2))
            square = (x, y, side)
            if style.clear(x, y) and not any(_overlaps(square, p) for p in placed):
                placed.append(square)
                break
        else:
            return list(style.fallback[:len(sides)])
    return [(x, y) for x, y, _ in placed]


def _others(rng: np.random.Generator, labels: np.ndarray, item: int, count: int) -> list[int]:
    """``count`` item indices whose classes differ from ``item``'s and from each other's."""
    chosen: list[int] = []
    taken = {int(labels[item])}
    draws = 0
    while len(chosen) < count:
        other = int(rng.integers(len(labels)))
        if int(labels[other]) not in taken:
            chosen.append(other)
            taken.add(int(labels[other]))
        draws += 1
        if draws % 1000 == 0 and len(np.unique(labels)) < count + 1:  # only when drawing stalls: not per canvas
            raise ValueError(f"the cued task needs items of at least {count + 1} classes")
    return chosen


@dataclass(frozen=True)
class CuedLayout:
    """What a cued canvas shows, before painting: the items (named one last) and the clutter."""

    items: tuple[int, ...]  # indices into the split; the named item last
    sides: tuple[int, ...]
    colours: np.ndarray  # (ITEMS, 3) palette rows, the named item's last (the cue's)
    positions: tuple[tuple[int, int], ...]  # (x, y) of each item's square
    fragments: tuple[tuple[int, int, int, int, int, int, np.ndarray], ...]  # (item, side, cx, cy, x, y, colour)

    def squares(self) -> list[tuple[int, int, int, int]]:
        """Each item's square (x0, y0, x1, y1), half-open, in the order of ``items`` (named last)."""
        return [(x, y, x + side, y + side) for (x, y), side in zip(self.positions, self.sides)]


def cued_layout(rng: np.random.Generator, labels: np.ndarray, item: int, style: str = "corner") -> CuedLayout:
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
    placed = _place(rng, list(sides), CUE_STYLES[style])
    return CuedLayout((*distractors, item), sides, colours, tuple(placed), tuple(fragments))


def render_cued_canvas(images: np.ndarray, labels: np.ndarray, split: str, index: int,
                       seed: int = 0, style: str = "corner") -> Canvas:
    """Render cued canvas ``index`` of ``split``; the named item is ``images[index % len(images)]``."""
    return cued_scene(images, labels, split, index, seed, style)[0]


def cued_scene(images: np.ndarray, labels: np.ndarray, split: str, index: int,
               seed: int = 0, style: str = "corner") -> tuple[Canvas, CuedLayout]:
    """The cued canvas and its layout (where the distractors are, for measuring attention on them)."""
    if style not in CUE_STYLES:
        raise ValueError(f"cue style must be one of {sorted(CUE_STYLES)}, got {style!r}")
    n = check_request(images, labels, split, index)
    rng = np.random.default_rng([seed, _SPLIT_SEEDS[split], index])
    canvas = background(rng)
    layout = cued_layout(rng, labels, index % n, style)
    for other, side, cx, cy, x, y, colour in layout.fragments:
        composite(canvas, images[other, cy:cy + side, cx:cx + side].astype(np.float32) / 255.0, colour, x, y)
    for i, side, colour, (x, y) in zip(layout.items, layout.sides, layout.colours, layout.positions):
        alpha = cv2.resize(images[i], (side, side), interpolation=cv2.INTER_LINEAR).astype(np.float32) / 255.0
        composite(canvas, alpha, colour, x, y)
    x0, y0, x1, y1 = CUE_STYLES[style].cue
    canvas[y0:y1, x0:x1] = layout.colours[-1]

    box, mask = item_box_and_mask(alpha, x, y)  # the named item: painted last
    np.clip(canvas, 0.0, 1.0, out=canvas)
    return Canvas(canvas, int(labels[layout.items[-1]]), box, layout.items[-1], mask), layout
