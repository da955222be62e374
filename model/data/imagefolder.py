"""A folder of class folders (``root/<class>/<image>``), for ImageNet-style training.

Without a transform every image is resized to the model's input (no crop), as the app and the
small tests want; with ``model.data.transforms.TrainTransform`` / ``EvalTransform`` it is the
usual random-resized-crop + flip for training and resize + centre crop for evaluation.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import torch
from PIL import Image, ImageOps
from torch.utils.data import Dataset

from .transforms import to_tensor

__all__ = ["ImageFolder", "IMAGE_EXTENSIONS", "load_image"]

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff")


def load_image(path: str | Path, size: int) -> torch.Tensor:
    """(3, size, size) float in [0, 1]: EXIF-oriented, RGB, resized (no crop)."""
    with Image.open(path) as im:
        return to_tensor(ImageOps.exif_transpose(im).convert("RGB").resize((size, size), Image.BILINEAR))


class ImageFolder(Dataset):
    """Classes are the sorted sub-folder names; item i is (image (3, size, size), label).
    ``classes`` may be given (e.g. the training set's) so that val labels use the same indices."""

    def __init__(self, root: str | Path, size: int,
                 transform: Callable[[Image.Image, int], torch.Tensor] | None = None,
                 classes: list[str] | None = None) -> None:
        self.root = Path(root)
        if not self.root.is_dir():
            raise FileNotFoundError(f"image folder not found: {self.root}")
        found = sorted(p.name for p in self.root.iterdir() if p.is_dir())
        self.classes = list(classes) if classes is not None else found
        if not self.classes:
            raise ValueError(f"{self.root} has no class sub-folders (expected root/<class>/<image>)")
        unknown = sorted(set(found) - set(self.classes))
        if unknown:
            raise ValueError(f"{self.root} has class folders the training set lacks: {unknown[:5]}")
        self.samples = [(p, i) for i, c in enumerate(self.classes) if (self.root / c).is_dir()
                        for p in sorted((self.root / c).rglob("*"))
                        if p.suffix.lower() in IMAGE_EXTENSIONS]
        if not self.samples:
            raise ValueError(f"{self.root} holds no images with extensions {IMAGE_EXTENSIONS}")
        self.size = size
        self.transform = transform

    def set_seed(self, seed: int) -> None:
        """A new draw of random crops (called once per epoch by the trainer)."""
        if self.transform is not None and hasattr(self.transform, "seed"):
            self.transform.seed = seed

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        path, label = self.samples[index]
        if self.transform is None:
            return load_image(path, self.size), label
        with Image.open(path) as im:
            im = ImageOps.exif_transpose(im).convert("RGB")
            return self.transform(im, index), label
