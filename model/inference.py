"""Run a model on one image and hand back plain arrays for display."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from .checks import check_glances, check_image_array

__all__ = ["Prediction", "predict", "model_device", "LogitsOnly"]


@dataclass(frozen=True)
class Prediction:
    """probs (C,), step_probs (N, C) after each glance, attention (N, heads, h, w)."""

    probs: np.ndarray
    step_probs: np.ndarray
    attention: np.ndarray

    @property
    def label(self) -> int:
        return int(self.probs.argmax())

    def top(self, k: int = 5) -> list[tuple[int, float]]:
        order = np.argsort(-self.probs)[:k]
        return [(int(i), float(self.probs[i])) for i in order]


def model_device(model: nn.Module) -> torch.device:
    return next(model.parameters()).device


@torch.no_grad()
def predict(model: nn.Module, image: np.ndarray, glances: int | None = None) -> Prediction:
    """``image`` (H, W, 3) float in [0, 1] at the model's input size."""
    check_image_array(image)
    x = torch.from_numpy(np.ascontiguousarray(image, dtype=np.float32)).permute(2, 0, 1)[None]
    out = model(x.to(model_device(model)), glances=glances)
    return Prediction(out.logits.softmax(-1)[0].cpu().numpy(),
                      out.step_logits.softmax(-1)[0].cpu().numpy(),
                      out.attention[0].cpu().numpy())


class LogitsOnly(nn.Module):
    """``model`` unrolled for a fixed glance count, returning logits only: the plain
    image -> logits callable that captum, torchattacks and similar libraries expect."""

    def __init__(self, model: nn.Module, glances: int | None = None) -> None:
        super().__init__()
        if glances is not None:
            check_glances(glances)
        self.model = model
        self.glances = glances

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x, glances=self.glances).logits
