"""Where the teacher finds its class: a target for the head's attention.

The pretrained network pools its feature map evenly and applies a linear classifier, so the
logit of class c is the mean over positions of ``W_c . f(position) + b_c``: the per-position
term is the class evidence map (CAM, Zhou et al., 2016). Softmax over positions of the evidence
for the teacher's class, at a temperature, is where a glance should look to read that class;
attending there also agrees with the teacher more often than even pooling does on crops (a
soft maximum of the evidence instead of its mean).
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["evidence_target", "evidence_loss"]


@torch.no_grad()
def evidence_target(fc: nn.Linear, maps: torch.Tensor, classes: torch.Tensor, tau: float) -> torch.Tensor:
    """(B, h, w) distributions softmax(W_c . f / tau) over positions of maps (B, C, h, w) for
    each view's class c (B,); the bias is the same at every position and drops out."""
    if tau <= 0:
        raise ValueError(f"tau must be > 0, got {tau}")
    evidence = torch.einsum("bc,bchw->bhw", fc.weight[classes].to(maps.dtype), maps)
    b, h, w = evidence.shape
    return (evidence.flatten(1).float() / tau).softmax(1).view(b, h, w)


def evidence_loss(attention: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Cross-entropy of each glance's head-averaged attention (B, N, heads, h, w) against the
    target (B, h, w), averaged over views and glances: its least value is the target's entropy."""
    mean = attention.mean(2).flatten(2)  # (B, N, h*w)
    return -(target.flatten(1)[:, None] * mean.clamp_min(1e-12).log()).sum(-1).mean()
