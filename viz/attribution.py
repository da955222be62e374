"""Gradient attributions (captum Saliency and Integrated Gradients) for comparison with the
attention maps: which pixels move the decision, against where the model looked."""

from __future__ import annotations

import numpy as np
import torch
from captum.attr import IntegratedGradients, Saliency
from torch import nn

from model.inference import LogitsOnly, model_device
from model.s3ta import check_glances

__all__ = ["attribution", "METHODS", "MAX_IG_STEPS"]

METHODS = ("saliency", "integrated_gradients")
MAX_IG_STEPS = 256


def attribution(model: nn.Module, image: np.ndarray, target: int, glances: int,
                method: str = "saliency", ig_steps: int = 32) -> np.ndarray:
    """(H, W) non-negative map: |attribution| summed over colour channels, for class ``target``
    of ``model`` unrolled for ``glances``. Integrated Gradients uses a black baseline."""
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    check_glances(glances)
    if not isinstance(ig_steps, int) or not 2 <= ig_steps <= MAX_IG_STEPS:
        raise ValueError(f"ig_steps must be an integer in [2, {MAX_IG_STEPS}], got {ig_steps!r}")
    num_classes = model.config.num_classes
    if not isinstance(target, (int, np.integer)) or not 0 <= target < num_classes:
        raise ValueError(f"target must be a class index in [0, {num_classes}), got {target!r}")
    forward = LogitsOnly(model, glances)
    x = torch.from_numpy(np.ascontiguousarray(image, np.float32)).permute(2, 0, 1)[None]
    x = x.to(model_device(model)).requires_grad_(True)
    if method == "saliency":
        attr = Saliency(forward).attribute(x, target=int(target), abs=True)
    else:
        attr = IntegratedGradients(forward).attribute(x, baselines=torch.zeros_like(x), target=int(target),
                                                      n_steps=ig_steps, internal_batch_size=ig_steps)
    return attr.detach().abs().sum(dim=1)[0].cpu().numpy()
