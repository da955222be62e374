"""The one output type of every model in the project, the same in train and eval."""

from __future__ import annotations

from typing import NamedTuple

import torch

__all__ = ["ModelOutput"]


class ModelOutput(NamedTuple):
    """``logits`` (B, C) after the last glance; ``step_logits`` (B, N, C) after each glance;
    ``attention`` (B, N, heads, h, w), each map summing to 1 over (h, w); ``features`` (B, D) what
    the model computed of the image, for an out-of-domain score: its pooled backbone features and,
    for a recurrent model, the state its last logits are decoded from; ``step_states`` (B, N, S) the
    state each glance's logits are decoded from (the belief after that glance), for following it.

    The global-average-pooling baseline returns N = heads = 1 and a uniform map: average pooling
    is exactly attention spread evenly over all positions.
    """

    logits: torch.Tensor
    step_logits: torch.Tensor
    attention: torch.Tensor
    features: torch.Tensor | None = None  # every model here fills it; a stand-in model may not
    step_states: torch.Tensor | None = None  # likewise
