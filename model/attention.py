"""Soft spatial attention read-out: softmax over positions of query . key, per head."""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["attend", "KeyValueEncoder"]


def attend(queries: torch.Tensor, keys: torch.Tensor, values: torch.Tensor
           ) -> tuple[torch.Tensor, torch.Tensor]:
    """Soft attention of ``heads`` queries over ``n`` positions.

    queries (B, heads, dk), keys (B, n, dk), values (B, n, dv) ->
    answers (B, heads, dv) and attention (B, heads, n), each row summing to 1.
    """
    logits = torch.einsum("bhd,bnd->bhn", queries, keys)  # (B, heads, n)
    attention = logits.softmax(dim=-1)  # (B, heads, n)
    answers = torch.einsum("bhn,bnd->bhd", attention, values)  # (B, heads, dv)
    return answers, attention


class KeyValueEncoder(nn.Module):
    """1x1 convolutions of the feature map into keys and values, each with the spatial basis."""

    def __init__(self, in_channels: int, key_channels: int, value_channels: int,
                 basis: nn.Module) -> None:
        super().__init__()
        self.key = nn.Conv2d(in_channels, key_channels, 1)
        self.value = nn.Conv2d(in_channels, value_channels, 1)
        self.basis = basis

    def forward(self, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        keys = self.basis(self.key(features))  # (B, dk, h, w)
        values = self.basis(self.value(features))  # (B, dv, h, w)
        return keys.flatten(2).transpose(1, 2), values.flatten(2).transpose(1, 2)  # (B, h*w, d)
