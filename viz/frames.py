"""Animation frames as uint8 arrays: attention over the image per glance (with the scanpath
and the object's box), side-by-side panels with captions. Shared by the app and the exports."""

from __future__ import annotations

from typing import Sequence

import cv2
import numpy as np

from .metrics import peaks
from .overlay import COLORMAPS, draw_box, enlarge, overlay

__all__ = ["select_head", "glance_frames", "side_by_side", "caption", "amplified_perturbation",
           "attribution_image"]

BOX_COLOUR = (0, 255, 0)
PATH_COLOUR = (0, 200, 255)


def select_head(attention: np.ndarray, head: int | None) -> np.ndarray:
    """(..., heads, h, w) -> (..., h, w): one head, or the mean over heads when ``head`` is None."""
    heads = attention.shape[-3]
    if head is None:
        return attention.mean(axis=-3)
    if not isinstance(head, (int, np.integer)) or not 0 <= head < heads:
        raise ValueError(f"head must be None (mean) or in [0, {heads}), got {head!r}")
    return attention[..., head, :, :]


def glance_frames(image: np.ndarray, attention: np.ndarray, head: int | None = None, zoom: int = 3,
                  cmap: str = "inferno", alpha: float = 0.6,
                  box: tuple[int, int, int, int] | None = None, scanpath: bool = True,
                  shared_scale: bool = False) -> np.ndarray:
    """One frame per glance: (N, H*zoom, W*zoom, 3) uint8 from an (H, W, 3) image in [0, 1] and
    attention (N, heads, h, w). The scanpath joins the peaks of glances 1..t. With
    ``shared_scale`` every frame uses the largest attention value of the run as full colour."""
    if attention.ndim != 4:
        raise ValueError(f"attention must be (N, heads, h, w), got shape {attention.shape}")
    if cmap not in COLORMAPS:
        raise ValueError(f"cmap must be one of {sorted(COLORMAPS)}, got {cmap!r}")
    maps = select_head(attention, head)
    big = enlarge(np.asarray(image, dtype=np.float32), zoom)
    size = big.shape[:2]
    points = np.round(peaks(maps, size)).astype(int)  # (N, 2) x, y
    vmax = float(maps.max()) if shared_scale else None
    frames = []
    for t in range(maps.shape[0]):
        frame = overlay(big, maps[t], alpha=alpha, cmap=cmap, vmax=vmax)
        if box is not None:
            frame = draw_box(frame, tuple(v * zoom for v in box), BOX_COLOUR, max(1, zoom // 2))
        if scanpath:
            for a, b in zip(points[:t], points[1:t + 1]):
                cv2.line(frame, tuple(map(int, a)), tuple(map(int, b)), PATH_COLOUR, 1, cv2.LINE_AA)
            for i, p in enumerate(points[:t + 1]):
                cv2.circle(frame, tuple(map(int, p)), 3 if i == t else 2, PATH_COLOUR,
                           -1 if i == t else 1, cv2.LINE_AA)
        frames.append(frame)
    return np.stack(frames)


def caption(frame: np.ndarray, text: str, height: int = 18) -> np.ndarray:
    """``frame`` with a black strip above it holding ``text`` in white."""
    strip = np.zeros((height, frame.shape[1], 3), np.uint8)
    scale = max(0.35, min(0.5, frame.shape[1] / 600))
    cv2.putText(strip, text[:80], (3, height - 5), cv2.FONT_HERSHEY_SIMPLEX, scale,
                (255, 255, 255), 1, cv2.LINE_AA)
    return np.concatenate([strip, frame], axis=0)


def side_by_side(panels: Sequence[np.ndarray], titles: Sequence[Sequence[str]], gap: int = 4
                 ) -> np.ndarray:
    """Panels (P of (N, H, W, 3)) -> (N, H', P*W + gaps, 3) frames, panel p of frame t captioned
    ``titles[p][t]``."""
    if len({p.shape for p in panels}) != 1:
        raise ValueError(f"panels differ in shape: {[p.shape for p in panels]}")
    n = panels[0].shape[0]
    if any(len(t) != n for t in titles) or len(titles) != len(panels):
        raise ValueError("need one title per panel and frame")
    out = []
    for t in range(n):
        cols = [caption(panel[t], titles[p][t]) for p, panel in enumerate(panels)]
        spacer = np.zeros((cols[0].shape[0], gap, 3), np.uint8)
        row = [cols[0]]
        for c in cols[1:]:
            row += [spacer, c]
        out.append(np.concatenate(row, axis=1))
    return np.stack(out)


def amplified_perturbation(clean: np.ndarray, adv: np.ndarray, zoom: int = 3) -> tuple[np.ndarray, float]:
    """The perturbation as a uint8 picture, grey = 0, scaled so its largest entry reaches
    black or white; also returns the gain applied."""
    delta = np.asarray(adv, np.float32) - np.asarray(clean, np.float32)
    top = float(np.abs(delta).max())
    gain = 0.5 / top if top > 0 else 1.0
    picture = np.clip(0.5 + delta * gain, 0, 1)
    return enlarge((picture * 255 + 0.5).astype(np.uint8), zoom), gain


def attribution_image(attribution: np.ndarray, image: np.ndarray, zoom: int = 3, cmap: str = "inferno",
                      alpha: float = 0.7) -> np.ndarray:
    """An (H, W) non-negative attribution map drawn over the image, uint8."""
    a = np.asarray(attribution, np.float32)
    if a.shape != image.shape[:2]:
        raise ValueError(f"attribution {a.shape} does not match the image {image.shape[:2]}")
    a = a / max(float(a.sum()), 1e-12)
    big = enlarge(np.asarray(image, np.float32), zoom)
    return overlay(big, enlarge(a[..., None], zoom)[..., 0], alpha=alpha, cmap=cmap)
