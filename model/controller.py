"""Top-down recurrent controller: an LSTM whose state is decoded into queries and logits."""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["MLP", "Controller"]


class MLP(nn.Sequential):
    """Linear -> ReLU -> Linear."""

    def __init__(self, cin: int, hidden: int, cout: int) -> None:
        super().__init__(nn.Linear(cin, hidden), nn.ReLU(inplace=True), nn.Linear(hidden, cout))


class Controller(nn.Module):
    """Emits ``heads`` queries from its state and consumes the answers (with the queries).

    ``nn.LSTMCell`` rather than ``nn.LSTM``: cuDNN's fused LSTM cannot run backward in eval mode,
    and attacks need input gradients of a model in eval mode.
    """

    def __init__(self, heads: int, key_dim: int, value_dim: int, lstm_size: int,
                 query_hidden: int) -> None:
        super().__init__()
        self.heads, self.key_dim, self.lstm_size = heads, key_dim, lstm_size
        self.lstm = nn.LSTMCell(heads * (key_dim + value_dim), lstm_size)
        self.query = MLP(lstm_size, query_hidden, heads * key_dim)

    def initial_state(self, batch: int, like: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        zeros = like.new_zeros(batch, self.lstm_size)
        return zeros, zeros.clone()

    def queries(self, h: torch.Tensor) -> torch.Tensor:
        return self.query(h).view(-1, self.heads, self.key_dim)  # (B, heads, dk)

    def step(self, answers: torch.Tensor, queries: torch.Tensor,
             state: tuple[torch.Tensor, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        inputs = torch.cat([answers.flatten(1), queries.flatten(1)], dim=1)  # (B, heads*(dv+dk))
        return self.lstm(inputs, state)
