"""Attention maps drawn over images; pure functions on arrays, returning arrays."""

from __future__ import annotations

import cv2
import numpy as np

__all__ = ["to_uint8", "upsample", "heatmap", "overlay", "draw_box", "enlarge"]

COLORMAPS = {"inferno": cv2.COLORMAP_INFERNO, "viridis": cv2.COLORMAP_VIRIDIS,
             "jet": cv2.COLORMAP_JET, "magma": cv2.COLORMAP_MAGMA}


def to_uint8(image: np.ndarray) -> np.ndarray:
    """float in [0, 1] (H, W, 3) -> uint8 (H, W, 3)."""
    return (np.clip(image, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def upsample(attention: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """(h, w) map -> (H, W) float, bilinear, rescaled to keep its total mass."""
    if len(size) != 2 or min(size) < 1:
        raise ValueError(f"size must be (H, W) with both >= 1, got {size!r}")
    a = np.asarray(attention, dtype=np.float32)
    up = cv2.resize(a, (size[1], size[0]), interpolation=cv2.INTER_LINEAR)
    return up * (a.sum() / max(float(up.sum()), 1e-12))


def _colour(up: np.ndarray, top: float, cmap: str) -> tuple[np.ndarray, np.ndarray]:
    """(RGB uint8 colours, scaled map in [0, 1]) of an upsampled map with ``top`` as full colour."""
    if cmap not in COLORMAPS:
        raise ValueError(f"cmap must be one of {sorted(COLORMAPS)}, got {cmap!r}")
    scaled = np.clip(up * (1.0 / max(top, 1e-12)), 0.0, 1.0)
    bgr = cv2.applyColorMap((scaled * 255).astype(np.uint8), COLORMAPS[cmap])
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), scaled


def heatmap(attention: np.ndarray, size: tuple[int, int], cmap: str = "inferno",
            vmax: float | None = None) -> np.ndarray:
    """(h, w) map -> (H, W, 3) uint8 colour image, scaled to [0, vmax] (default: the map's max)."""
    up = upsample(attention, size)
    return _colour(up, float(up.max()) if vmax is None else vmax, cmap)[0]


def overlay(image: np.ndarray, attention: np.ndarray, alpha: float = 0.6, cmap: str = "inferno",
            vmax: float | None = None) -> np.ndarray:
    """Blend the attention heatmap over ``image`` ((H, W, 3) float in [0, 1]) -> uint8 (H, W, 3).

    Opacity follows attention, so unattended regions show the image itself.
    """
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be in [0, 1], got {alpha}")
    h, w = image.shape[:2]
    up = upsample(attention, (h, w))
    colour, scaled = _colour(up, float(up.max()) if vmax is None else vmax, cmap)
    weight = (alpha * scaled)[..., None].astype(np.float32)
    blended = image.astype(np.float32, copy=False) * (1 - weight) + colour.astype(np.float32) * (weight / 255.0)
    return to_uint8(blended)


def draw_box(image: np.ndarray, box: tuple[int, int, int, int], colour=(0, 255, 0),
             thickness: int = 1) -> np.ndarray:
    """Copy of a uint8 (H, W, 3) image with the half-open box (x0, y0, x1, y1) outlined."""
    if not isinstance(thickness, int) or thickness < 1:
        raise ValueError(f"thickness must be an integer >= 1 pixels, got {thickness!r}")
    out = np.ascontiguousarray(image).copy()
    x0, y0, x1, y1 = (int(v) for v in box)
    cv2.rectangle(out, (x0, y0), (x1 - 1, y1 - 1), colour, thickness)
    return out


def enlarge(image: np.ndarray, factor: int) -> np.ndarray:
    """Nearest-neighbour enlargement (H, W, C) -> (H*f, W*f, C), so small canvases stay crisp."""
    if not isinstance(factor, int) or factor < 1:
        raise ValueError(f"factor must be a positive integer, got {factor!r}")
    return np.repeat(np.repeat(image, factor, axis=0), factor, axis=1)
