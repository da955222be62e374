"""Fashion-MNIST from Debian's ``dataset-fashion-mnist`` package (IDX files, gzip)."""

from __future__ import annotations

import gzip
import os
from functools import lru_cache
from pathlib import Path

import numpy as np

__all__ = ["CLASS_NAMES", "find_fashion_mnist", "load_fashion_mnist", "DatasetNotFoundError"]

CLASS_NAMES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
               "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")
SEARCH_DIRS = ("/usr/share/datasets/fashion-mnist", "~/.cache/fashion-mnist", "data/fashion-mnist")
FILES = {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
         "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}


class DatasetNotFoundError(FileNotFoundError):
    """Fashion-MNIST files are not where we look; the message says how to get them."""


def _file(directory: Path, stem: str) -> Path | None:
    for name in (stem + ".gz", stem):
        if (directory / name).is_file():
            return directory / name
    return None


def find_fashion_mnist(root: str | os.PathLike | None = None) -> Path:
    """The folder holding the four IDX files: ``root``, ``$FASHION_MNIST_DIR``, then defaults."""
    candidates = [root, os.environ.get("FASHION_MNIST_DIR"), *SEARCH_DIRS]
    tried = []
    for c in candidates:
        if not c:
            continue
        d = Path(c).expanduser()
        tried.append(str(d))
        if all(_file(d, s) for pair in FILES.values() for s in pair):
            return d
    raise DatasetNotFoundError(
        "Fashion-MNIST not found (looked in: " + ", ".join(tried) + "). Install it with "
        "`sudo apt-get install dataset-fashion-mnist`, or put the four IDX files "
        "(train-images-idx3-ubyte.gz, ...) in a folder and set FASHION_MNIST_DIR to it.")


def _read_idx(path: Path) -> np.ndarray:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        data = f.read()
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] != 8:
        raise ValueError(f"{path} is not an unsigned-byte IDX file")
    ndim = data[3]
    shape = tuple(int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    arr = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim)
    if arr.size != int(np.prod(shape)):
        raise ValueError(f"{path} is truncated: header says {shape}")
    return arr.reshape(shape)


@lru_cache(maxsize=4)
def load_fashion_mnist(split: str, root: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(images (N, 28, 28) uint8, labels (N,) int64) of ``split`` ('train' or 'test')."""
    if split not in FILES:
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    d = find_fashion_mnist(root)
    images = _read_idx(_file(d, FILES[split][0]))  # type: ignore[arg-type]
    labels = _read_idx(_file(d, FILES[split][1])).astype(np.int64)  # type: ignore[arg-type]
    if images.shape[0] != labels.shape[0]:
        raise ValueError(f"{split}: {images.shape[0]} images but {labels.shape[0]} labels")
    return images, labels
