"""Attention-shift metrics on attention maps; pure numpy, layout (..., h, w), maps summing to 1.

Maps live on a coarse grid over the image: cell (i, j) covers the image rectangle
[j*W/w, (j+1)*W/w) x [i*H/h, (i+1)*H/h). Boxes are (x0, y0, x1, y1), half-open, in image pixels.
"""

from __future__ import annotations

import numpy as np

__all__ = ["select_head", "box_weights", "box_mass", "mean_box_mass", "js_divergence", "entropy", "center_of_mass",
           "com_shift", "peaks", "attention_shift"]

EPS = 1e-12


def _size(image_size: tuple[int, int]) -> tuple[int, int]:
    if len(image_size) != 2 or min(image_size) <= 0:
        raise ValueError(f"image_size must be (H, W) with both > 0, got {image_size!r}")
    return image_size


def _boxes(boxes: np.ndarray) -> np.ndarray:
    boxes = np.asarray(boxes, dtype=np.float64)
    if boxes.ndim < 1 or boxes.shape[-1] != 4:
        raise ValueError(f"boxes must have a last axis of 4 (x0, y0, x1, y1), got shape {boxes.shape}")
    if (boxes[..., 2] < boxes[..., 0]).any() or (boxes[..., 3] < boxes[..., 1]).any():
        raise ValueError("boxes must have x0 <= x1 and y0 <= y1")
    return boxes


def _maps(attention: np.ndarray) -> np.ndarray:
    a = np.asarray(attention, dtype=np.float64)
    if a.ndim < 2:
        raise ValueError(f"attention maps must be (..., h, w), got shape {a.shape}")
    if (a < 0).any():
        raise ValueError("attention maps must be non-negative (they are distributions)")
    return a


def _overlap(lo: np.ndarray, hi: np.ndarray, cells: int, extent: float) -> np.ndarray:
    """Fraction of each of ``cells`` grid cells over [0, extent) inside [lo, hi): (..., cells)."""
    edges = np.arange(cells + 1) * (extent / cells)
    start = np.maximum(edges[:-1], lo[..., None])
    stop = np.minimum(edges[1:], hi[..., None])
    return np.clip(stop - start, 0.0, None) / (extent / cells)


def box_weights(boxes: np.ndarray, grid: tuple[int, int], image_size: tuple[int, int]) -> np.ndarray:
    """(..., h, w) fraction of each grid cell's area inside the box; boxes (..., 4)."""
    boxes = _boxes(boxes)
    (h, w), (H, W) = grid, _size(image_size)
    wx = _overlap(boxes[..., 0], boxes[..., 2], w, W)  # (..., w)
    wy = _overlap(boxes[..., 1], boxes[..., 3], h, H)  # (..., h)
    return wy[..., :, None] * wx[..., None, :]


def box_mass(attention: np.ndarray, boxes: np.ndarray, image_size: tuple[int, int]) -> np.ndarray:
    """Attention mass inside the box, treating each cell's mass as spread evenly over the cell.

    attention (..., h, w); boxes broadcastable to (..., 4). Returns (...) in [0, 1].
    """
    attention = _maps(attention)
    boxes = _boxes(boxes)
    extra = attention.ndim - 2 - (boxes.ndim - 1)
    if extra < 0:
        raise ValueError(f"boxes {boxes.shape} have more leading dims than attention {attention.shape}")
    # Boxes index the leading (batch) dims; broadcast over the glance/head dims in between.
    boxes = boxes.reshape(boxes.shape[:-1] + (1,) * extra + (4,))
    weights = box_weights(boxes, attention.shape[-2:], image_size)
    return (attention * weights).sum(axis=(-2, -1))


def mean_box_mass(attention: np.ndarray, boxes: np.ndarray, image_size: tuple[int, int]) -> np.ndarray:
    """(B,) mass of the glance- and head-averaged attention (B, N, heads, h, w) in each box (B, 4):
    the "attention on the item" stored in checkpoint metadata and reported by the evaluations."""
    attention = np.asarray(attention, dtype=np.float64)
    if attention.ndim != 5:
        raise ValueError(f"expected attention (B, N, heads, h, w), got shape {attention.shape}")
    return box_mass(attention.mean(axis=(1, 2)), boxes, image_size)


def select_head(attention: np.ndarray, head: int | None) -> np.ndarray:
    """(..., heads, h, w) -> (..., h, w): one head, or the mean over heads when ``head`` is None."""
    heads = attention.shape[-3]
    if head is None:
        return attention.mean(axis=-3)
    if not isinstance(head, (int, np.integer)) or not 0 <= head < heads:
        raise ValueError(f"head must be None (mean) or in [0, {heads}), got {head!r}")
    return attention[..., head, :, :]


def entropy(attention: np.ndarray) -> np.ndarray:
    """Shannon entropy in nats of each (h, w) map: (...)."""
    p = _maps(attention)
    return -(p * np.log(np.clip(p, EPS, None))).sum(axis=(-2, -1))


def js_divergence(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Jensen-Shannon divergence in nats between maps p and q (..., h, w): in [0, ln 2]."""
    p, q = _maps(p), _maps(q)
    if p.shape != q.shape:
        raise ValueError(f"p and q must have the same shape, got {p.shape} and {q.shape}")
    m = 0.5 * (p + q)

    def kl(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return (a * (np.log(np.clip(a, EPS, None)) - np.log(np.clip(b, EPS, None)))).sum(axis=(-2, -1))

    return np.clip(0.5 * kl(p, m) + 0.5 * kl(q, m), 0.0, None)


def center_of_mass(attention: np.ndarray, image_size: tuple[int, int]) -> np.ndarray:
    """(..., 2) centre of mass (x, y) in image pixels, cells taken at their centres."""
    a = _maps(attention)
    h, w = a.shape[-2:]
    H, W = _size(image_size)
    xs = (np.arange(w) + 0.5) * (W / w)
    ys = (np.arange(h) + 0.5) * (H / h)
    total = np.clip(a.sum(axis=(-2, -1)), EPS, None)
    x = (a.sum(axis=-2) * xs).sum(axis=-1) / total
    y = (a.sum(axis=-1) * ys).sum(axis=-1) / total
    return np.stack([x, y], axis=-1)


def com_shift(p: np.ndarray, q: np.ndarray, image_size: tuple[int, int]) -> np.ndarray:
    """Euclidean distance in pixels between the centres of mass of p and q: (...)."""
    return np.linalg.norm(center_of_mass(p, image_size) - center_of_mass(q, image_size), axis=-1)


def peaks(attention: np.ndarray, image_size: tuple[int, int]) -> np.ndarray:
    """(..., 2) location (x, y) in image pixels of each map's maximum cell centre: a scanpath
    when taken over glances."""
    a = _maps(attention)
    _size(image_size)
    h, w = a.shape[-2:]
    flat = a.reshape(a.shape[:-2] + (h * w,)).argmax(axis=-1)
    iy, ix = np.divmod(flat, w)
    return np.stack([(ix + 0.5) * (image_size[1] / w), (iy + 0.5) * (image_size[0] / h)], axis=-1)


def attention_shift(clean: np.ndarray, adv: np.ndarray, image_size: tuple[int, int],
                    box: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Every clean-vs-adversarial readout for maps (..., N, heads, h, w), per glance and head.

    Returns arrays of shape (..., N, heads): ``js``, ``com_shift``, ``entropy_clean``,
    ``entropy_adv`` (and ``mass_clean``, ``mass_adv`` in ``box`` when given); plus
    ``peaks_clean`` and ``peaks_adv`` (..., N, heads, 2): the scanpaths in pixels.
    """
    clean = np.asarray(clean, dtype=np.float64)
    adv = np.asarray(adv, dtype=np.float64)
    if clean.shape != adv.shape:
        raise ValueError(f"clean and adversarial maps must have the same shape, got {clean.shape} and {adv.shape}")
    out = {"js": js_divergence(clean, adv), "com_shift": com_shift(clean, adv, image_size),
           "entropy_clean": entropy(clean), "entropy_adv": entropy(adv),
           "peaks_clean": peaks(clean, image_size), "peaks_adv": peaks(adv, image_size)}
    if box is not None:
        box = np.asarray(box, dtype=np.float64)
        weights = box_weights(box, clean.shape[-2:], image_size)
        out["mass_clean"] = (clean * weights).sum(axis=(-2, -1))
        out["mass_adv"] = (adv * weights).sum(axis=(-2, -1))
    return out
