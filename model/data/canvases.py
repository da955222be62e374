"""The canvas tasks by name, and the data set and batches every training and evaluation
command draws from them (the cluttered task is the default; the cued ones need several looks)."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import numpy as np
import torch
from torch.utils.data import Dataset

from .cluttered import Canvas, render_canvas
from .cued import CUED_TASKS, render_cued_canvas
from .fashion_mnist import CLASS_NAMES, load_fashion_mnist

__all__ = ["CANVAS_TASKS", "DEFAULT_TASK", "check_task", "ClutteredFashionMNIST", "make_batch"]

DEFAULT_TASK = "cluttered-fashion-mnist"
CANVAS_TASKS: dict[str, Callable[[np.ndarray, np.ndarray, str, int, int], Canvas]] = {
    DEFAULT_TASK: render_canvas,
    **{task: partial(render_cued_canvas, style=style) for task, style in CUED_TASKS.items()},
}


def check_task(task: str) -> str:
    """``task`` if it names a canvas task, else a ValueError listing the ones there are."""
    if task not in CANVAS_TASKS:
        raise ValueError(f"unknown canvas task {task!r}; one of {sorted(CANVAS_TASKS)}")
    return task


class ClutteredFashionMNIST(Dataset):
    """``length`` canvases of ``split`` of a canvas task; item i is (image (3, 96, 96) float,
    label, box (4,))."""

    classes = CLASS_NAMES

    def __init__(self, split: str = "train", length: int | None = None, seed: int = 0,
                 root: str | None = None, task: str = DEFAULT_TASK) -> None:
        if split not in ("train", "test"):
            raise ValueError(f"split must be 'train' or 'test', got {split!r}")
        self.render = CANVAS_TASKS[check_task(task)]
        self.images, self.labels = load_fashion_mnist(split, root)
        self.split, self.seed, self.task = split, seed, task
        self.length = len(self.images) if length is None else int(length)
        if self.length < 1:
            raise ValueError(f"length must be >= 1, got {length!r}")

    def set_seed(self, seed: int) -> None:
        """Change the seed (e.g. per epoch, for fresh training canvases)."""
        self.seed = seed

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int, torch.Tensor]:
        if not 0 <= index < self.length:
            raise IndexError(index)
        c = self.render(self.images, self.labels, self.split, index, self.seed)
        return torch.from_numpy(c.image).permute(2, 0, 1).contiguous(), c.label, torch.tensor(c.box)


def make_batch(split: str, indices: range | list[int], seed: int = 0, root: str | None = None,
               task: str = DEFAULT_TASK) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Stack canvases of ``task``: images (B, 3, 96, 96), labels (B,), boxes (B, 4)."""
    ds = ClutteredFashionMNIST(split, seed=seed, root=root, task=task)
    items = [ds[i] for i in indices]
    return (torch.stack([i[0] for i in items]), torch.tensor([i[1] for i in items]),
            torch.stack([i[2] for i in items]))
