"""What the distilled head is judged on: top-1 agreement with the pretrained network, and how
much of its attention lands in a pasted object's box compared with the box's share of the image."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch
from torch import nn

from model.metrics import mean_box_mass

from .scenes import Scene

__all__ = ["as_batch", "batches", "agreement", "box_masses", "box_attention"]


def as_batch(views: list[Scene]) -> torch.Tensor:
    """(B, 3, H, W) float in [0, 1] from the views' uint8 images."""
    return torch.from_numpy(np.stack([v.image for v in views])).permute(0, 3, 1, 2).float() / 255


def batches(views: list[Scene], size: int) -> Iterator[list[Scene]]:
    for i in range(0, len(views), size):
        yield views[i:i + size]


@torch.no_grad()
def agreement(model: nn.Module, teacher: nn.Module, views: list[Scene], glances: int,
              batch_size: int = 32) -> float:
    """Share of views where the model's class after ``glances`` is the teacher's."""
    same = 0
    for chunk in batches(views, batch_size):
        x = as_batch(chunk)
        same += int((model(x, glances=glances).logits.argmax(1) == teacher(x).argmax(1)).sum())
    return same / len(views)


@torch.no_grad()
def box_masses(model: nn.Module, scenes: list[Scene], glances: int,
               batch_size: int = 32) -> tuple[np.ndarray, np.ndarray, list[Scene]]:
    """Per scene with a box: the glance- and head-averaged attention mass inside it and the box's
    share of the image, with those scenes (in order)."""
    with_box = [s for s in scenes if s.box is not None]
    if not with_box:
        raise ValueError("no scene has a box")
    masses, shares = [], []
    for chunk in batches(with_box, batch_size):
        x = as_batch(chunk)
        boxes = np.array([s.box for s in chunk])
        masses.append(mean_box_mass(model(x, glances=glances).attention.numpy(), boxes, (x.shape[-2], x.shape[-1])))
        area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
        shares.append(area / (x.shape[-1] * x.shape[-2]))
    return np.concatenate(masses), np.concatenate(shares), with_box


def box_attention(model: nn.Module, scenes: list[Scene], glances: int, batch_size: int = 32) -> dict[str, float]:
    """Over scenes with a box: the glance- and head-averaged attention mass inside it, the box's
    share of the image, and the ratio of their means (1: attention no better than uniform)."""
    masses, shares, with_box = box_masses(model, scenes, glances, batch_size)
    mass, share = float(masses.mean()), float(shares.mean())
    return {"n": len(with_box), "mass_in_box": mass, "box_share": share, "ratio": mass / share}
