"""ImageNet-style preprocessing on PIL images without torchvision: random resized crop and
horizontal flip for training, resize + centre crop for evaluation. Output (3, size, size) float
in [0, 1]; normalization happens inside the model."""

from __future__ import annotations

import math

import numpy as np
import torch
from PIL import Image

__all__ = ["random_resized_crop", "center_crop", "to_tensor", "TrainTransform", "EvalTransform"]


def to_tensor(im: Image.Image) -> torch.Tensor:
    """RGB PIL image -> (3, H, W) float32 in [0, 1]."""
    arr = np.asarray(im.convert("RGB"), dtype=np.float32) / 255.0
    return torch.from_numpy(arr).permute(2, 0, 1).contiguous()


def random_resized_crop(im: Image.Image, size: int, rng: np.random.Generator,
                        scale: tuple[float, float] = (0.08, 1.0),
                        ratio: tuple[float, float] = (3 / 4, 4 / 3)) -> Image.Image:
    """A crop of random area (``scale`` of the image) and aspect ratio, resized to size x size;
    after 10 failed draws, the central crop at the nearest allowed ratio (as torchvision does)."""
    if not 0 < scale[0] <= scale[1] <= 1 or not 0 < ratio[0] <= ratio[1]:
        raise ValueError(f"need 0 < scale[0] <= scale[1] <= 1 and 0 < ratio[0] <= ratio[1], got {scale}, {ratio}")
    w, h = im.size
    area = w * h
    log_ratio = (math.log(ratio[0]), math.log(ratio[1]))
    for _ in range(10):
        target = area * rng.uniform(*scale)
        aspect = math.exp(rng.uniform(*log_ratio))
        cw, ch = int(round(math.sqrt(target * aspect))), int(round(math.sqrt(target / aspect)))
        if 0 < cw <= w and 0 < ch <= h:
            x0, y0 = int(rng.integers(0, w - cw + 1)), int(rng.integers(0, h - ch + 1))
            return im.resize((size, size), Image.BILINEAR, box=(x0, y0, x0 + cw, y0 + ch))
    in_ratio = w / h
    if in_ratio < ratio[0]:
        cw, ch = w, int(round(w / ratio[0]))
    elif in_ratio > ratio[1]:
        cw, ch = int(round(h * ratio[1])), h
    else:
        cw, ch = w, h
    x0, y0 = (w - cw) // 2, (h - ch) // 2
    return im.resize((size, size), Image.BILINEAR, box=(x0, y0, x0 + cw, y0 + ch))


def center_crop(im: Image.Image, size: int, crop_fraction: float = 0.875) -> Image.Image:
    """Resize the short side to size / crop_fraction, then take the central size x size."""
    if not 0 < crop_fraction <= 1:
        raise ValueError(f"crop_fraction must be in (0, 1], got {crop_fraction}")
    w, h = im.size
    short = size / crop_fraction
    scale = short / min(w, h)
    nw, nh = max(size, int(round(w * scale))), max(size, int(round(h * scale)))
    im = im.resize((nw, nh), Image.BILINEAR)
    x0, y0 = (nw - size) // 2, (nh - size) // 2
    return im.crop((x0, y0, x0 + size, y0 + size))


class TrainTransform:
    """Random resized crop + horizontal flip, seeded per (epoch seed, index) so that a resumed
    run and every DataLoader worker draw the same crops."""

    def __init__(self, size: int, seed: int = 0, scale: tuple[float, float] = (0.08, 1.0)) -> None:
        self.size, self.seed, self.scale = size, seed, scale

    def __call__(self, im: Image.Image, index: int) -> torch.Tensor:
        rng = np.random.default_rng([self.seed, index])
        im = random_resized_crop(im, self.size, rng, self.scale)
        if rng.random() < 0.5:
            im = im.transpose(Image.FLIP_LEFT_RIGHT)
        return to_tensor(im)


class EvalTransform:
    """Resize + centre crop (the standard 0.875 ImageNet evaluation)."""

    def __init__(self, size: int, crop_fraction: float = 0.875) -> None:
        self.size, self.crop_fraction = size, crop_fraction

    def __call__(self, im: Image.Image, index: int) -> torch.Tensor:
        return to_tensor(center_crop(im, self.size, self.crop_fraction))
