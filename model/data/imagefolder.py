"""A folder of class folders (``root/<class>/<image>``), resized to the model's input size."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps
from torch.utils.data import Dataset

__all__ = ["ImageFolder", "IMAGE_EXTENSIONS", "load_image"]

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff")


def load_image(path: str | Path, size: int) -> torch.Tensor:
    """(3, size, size) float in [0, 1]: EXIF-oriented, RGB, resized (no crop)."""
    with Image.open(path) as im:
        im = ImageOps.exif_transpose(im).convert("RGB").resize((size, size), Image.BILINEAR)
        arr = np.asarray(im, dtype=np.float32) / 255.0
    return torch.from_numpy(arr).permute(2, 0, 1).contiguous()


class ImageFolder(Dataset):
    """Classes are the sorted sub-folder names; item i is (image (3, size, size), label)."""

    def __init__(self, root: str | Path, size: int) -> None:
        self.root = Path(root)
        if not self.root.is_dir():
            raise FileNotFoundError(f"image folder not found: {self.root}")
        self.classes = sorted(p.name for p in self.root.iterdir() if p.is_dir())
        if not self.classes:
            raise ValueError(f"{self.root} has no class sub-folders (expected root/<class>/<image>)")
        self.samples = [(p, i) for i, c in enumerate(self.classes)
                        for p in sorted((self.root / c).rglob("*"))
                        if p.suffix.lower() in IMAGE_EXTENSIONS]
        if not self.samples:
            raise ValueError(f"{self.root} holds no images with extensions {IMAGE_EXTENSIONS}")
        self.size = size

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        path, label = self.samples[index]
        return load_image(path, self.size), label
