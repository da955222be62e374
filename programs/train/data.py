"""The data sets a recipe trains and validates on, with the class names and input statistics
that go into the checkpoint."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from torch.utils.data import Dataset, Subset

from model.data import CANVAS_TASKS, CLASS_NAMES, ClutteredFashionMNIST, ImageFolder
from model.data.stats import input_stats
from model.data.transforms import EvalTransform, TrainTransform
from programs.seeds import VALIDATION_SEED

from .config import TrainConfig

__all__ = ["build_datasets", "readable_names", "training_input_stats"]


def build_datasets(cfg: TrainConfig, image_size: int) -> tuple[Any, Any, list[str]]:
    """(training set, validation set, class names) of the recipe's task."""
    if cfg.task in CANVAS_TASKS:
        train = ClutteredFashionMNIST("train", cfg.train_size, seed=cfg.seed, root=cfg.data_root, task=cfg.task)
        val = ClutteredFashionMNIST("test", cfg.val_size, seed=VALIDATION_SEED, root=cfg.data_root,
                                    task=cfg.task)
        return train, val, list(CLASS_NAMES)
    if not cfg.data_root:
        raise ValueError("task imagefolder needs train.data_root (a folder with train/ and val/)")
    root = Path(cfg.data_root)
    evaluation = EvalTransform(image_size, cfg.crop_fraction)
    train = ImageFolder(root / "train", image_size,
                        TrainTransform(image_size, cfg.seed) if cfg.augment else evaluation)
    val_root = root / "val" if (root / "val").is_dir() else root / "train"
    val = ImageFolder(val_root, image_size, evaluation, classes=train.classes)
    if cfg.val_size < len(val):  # an even spread over the (class-sorted) folder
        picks = np.linspace(0, len(val) - 1, cfg.val_size).round().astype(int)
        val = Subset(val, np.unique(picks).tolist())
    return train, val, readable_names(train.classes, cfg.class_names_file)


def readable_names(folders: list[str], mapping_file: str | None) -> list[str]:
    """Class names for the checkpoint: the folder names, or their readable names from a
    "<folder> <name>" per line file (the first comma-separated name is kept)."""
    if not mapping_file:
        return list(folders)
    table = {}
    for line in Path(mapping_file).read_text().splitlines():
        key, _, name = line.strip().partition(" ")
        if key:
            table[key] = name.split(",")[0].strip() or key
    missing = [f for f in folders if f not in table]
    if missing:
        raise ValueError(f"{mapping_file} names no class for folders {missing[:5]} ({len(missing)} in all)")
    return [table[f] for f in folders]


def training_input_stats(dataset: Dataset, n: int = 256) -> dict[str, dict[str, float]]:
    """``input_stats`` of ``n`` training images spread evenly over the set (image folders are
    sorted by class), for the app's "far from the training data" warning on uploads."""
    picks = np.unique(np.linspace(0, len(dataset) - 1, min(n, len(dataset))).round().astype(int))
    images = [dataset[int(i)][0].permute(1, 2, 0).numpy() for i in picks]  # spread over classes
    return input_stats(np.stack(images))
