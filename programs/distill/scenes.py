"""Unlabelled training views for distillation: random crops of photographs, and scenes made by
pasting a cut-out object (an RGBA image) onto a crop, whose box is then known. Every view is a
pure function of (its index, the seed)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

__all__ = ["IMAGE_SUFFIXES", "list_images", "load_rgb", "load_rgba", "random_crop", "composite", "Scene",
           "make_views", "object_view"]

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp")
MAX_SIDE = 640  # photographs are shrunk to this on load: crops are 224 px, wallpapers 4K


def list_images(folder: str | Path) -> list[Path]:
    """Every image file under ``folder``, sorted (so a seed picks the same ones everywhere)."""
    root = Path(folder)
    if not root.is_dir():
        raise FileNotFoundError(f"image folder not found: {root}")
    files = sorted(p for p in root.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
    if not files:
        raise ValueError(f"no images ({', '.join(IMAGE_SUFFIXES)}) under {root}")
    return files


def load_rgb(path: str | Path) -> np.ndarray:
    """(H, W, 3) uint8, EXIF-oriented, longest side at most MAX_SIDE."""
    with Image.open(path) as im:
        im = ImageOps.exif_transpose(im).convert("RGB")
        im.thumbnail((MAX_SIDE, MAX_SIDE), Image.LANCZOS)
        return np.asarray(im)


def load_rgba(path: str | Path) -> np.ndarray:
    """(H, W, 4) uint8 cut-out, trimmed to its visible pixels (alpha > 0)."""
    with Image.open(path) as im:
        rgba = np.asarray(im.convert("RGBA"))
    ys, xs = np.nonzero(rgba[..., 3] > 0)
    if ys.size == 0:
        raise ValueError(f"{path} has no visible pixels")
    return rgba[ys.min():ys.max() + 1, xs.min():xs.max() + 1]


def random_crop(image: np.ndarray, rng: np.random.Generator, size: int = 224,
                scale: tuple[float, float] = (0.2, 1.0)) -> np.ndarray:
    """A random-resized crop (area share ``scale``, aspect 3/4..4/3, random flip) at ``size``."""
    h, w = image.shape[:2]
    for _ in range(10):
        area = h * w * rng.uniform(*scale)
        aspect = math.exp(rng.uniform(math.log(3 / 4), math.log(4 / 3)))
        cw, ch = int(round(math.sqrt(area * aspect))), int(round(math.sqrt(area / aspect)))
        if 0 < cw <= w and 0 < ch <= h:
            break
    else:
        cw = ch = min(h, w)
    x0, y0 = int(rng.integers(0, w - cw + 1)), int(rng.integers(0, h - ch + 1))
    crop = Image.fromarray(image[y0:y0 + ch, x0:x0 + cw]).resize((size, size), Image.BILINEAR)
    out = np.asarray(crop)
    return out[:, ::-1].copy() if rng.random() < 0.5 else out


@dataclass(frozen=True)
class Scene:
    image: np.ndarray  # (size, size, 3) uint8
    box: tuple[int, int, int, int] | None  # (x0, y0, x1, y1) of the pasted object, half-open
    source: int | None = None  # index of the photograph it was cropped from, when made by make_views


def composite(background: np.ndarray, cutout: np.ndarray, rng: np.random.Generator,
              side: tuple[float, float] = (0.3, 0.6)) -> Scene:
    """``cutout`` (RGBA) scaled so its longer side is ``side`` of the background's, pasted at a
    random place fully inside; the box is its visible pixels' (alpha > 0.5) tight box."""
    size = background.shape[0]
    h, w = cutout.shape[:2]
    f = rng.uniform(*side) * size / max(h, w)
    nw, nh = max(1, int(round(w * f))), max(1, int(round(h * f)))
    obj = np.asarray(Image.fromarray(cutout).resize((nw, nh), Image.BILINEAR)).astype(np.float32) / 255
    x0, y0 = int(rng.integers(0, size - nw + 1)), int(rng.integers(0, size - nh + 1))
    out = background.astype(np.float32) / 255
    alpha = obj[..., 3:4]
    region = out[y0:y0 + nh, x0:x0 + nw]
    out[y0:y0 + nh, x0:x0 + nw] = region * (1 - alpha) + obj[..., :3] * alpha
    ys, xs = np.nonzero(alpha[..., 0] > 0.5)
    box = (x0 + int(xs.min()), y0 + int(ys.min()), x0 + int(xs.max()) + 1, y0 + int(ys.max()) + 1) \
        if ys.size else None
    return Scene((out * 255).round().astype(np.uint8), box)


def object_view(scene: Scene, margin: float = 0.15) -> np.ndarray:
    """The pasted object on its own: the square around the scene's box, widened by ``margin`` of
    its side (kept inside the image), resized to the scene's size. What an object teacher sees."""
    if scene.box is None:
        raise ValueError("the scene has no pasted object")
    size = scene.image.shape[0]
    x0, y0, x1, y1 = scene.box
    side = min(size, int(round(max(x1 - x0, y1 - y0) * (1 + 2 * margin))))
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    left = int(np.clip(round(cx - side / 2), 0, size - side))
    top = int(np.clip(round(cy - side / 2), 0, size - side))
    crop = Image.fromarray(scene.image[top:top + side, left:left + side])
    return np.asarray(crop.resize((size, size), Image.BILINEAR))


def make_views(photos: list[np.ndarray], cutouts: list[np.ndarray], n: int, seed: int, size: int = 224,
               scene_share: float = 0.5) -> list[Scene]:
    """``n`` views: a random crop of a random photo, with a random cut-out pasted on it in a share
    ``scene_share`` of them (none without cut-outs). View i depends on (seed, i) only."""
    views = []
    for i in range(n):
        rng = np.random.default_rng([seed, i])
        source = int(rng.integers(len(photos)))
        background = random_crop(photos[source], rng, size)
        if cutouts and rng.random() < scene_share:
            scene = composite(background, cutouts[int(rng.integers(len(cutouts)))], rng)
            views.append(Scene(scene.image, scene.box, source))
        else:
            views.append(Scene(background, None, source))
    return views
