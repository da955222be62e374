"""S3TA: soft, sequential, spatial, top-down attention classifier (Zoran et al. 2019)."""

from __future__ import annotations

import torch
from torch import nn

from .attention import KeyValueEncoder, attend
from .backbone import build_backbone
from .config import ModelConfig
from .controller import MLP, Controller
from .normalize import InputNormalize
from .output import ModelOutput
from .spatial_basis import SpatialBasis

__all__ = ["S3TA", "MAX_GLANCES"]

MAX_GLANCES = 64


def check_glances(glances: int) -> int:
    if not isinstance(glances, int) or isinstance(glances, bool) or not 1 <= glances <= MAX_GLANCES:
        raise ValueError(f"glances must be an integer in [1, {MAX_GLANCES}], got {glances!r}")
    return glances


def check_images(x: torch.Tensor) -> None:
    if x.ndim != 4 or x.shape[1] != 3:
        raise ValueError(f"expected images of shape (B, 3, H, W), got {tuple(x.shape)}")
    if not x.is_floating_point():
        raise ValueError(f"expected float images in [0, 1], got dtype {x.dtype}")


class S3TA(nn.Module):
    """ResNet keys/values + spatial basis, read by an LSTM controller over ``glances`` steps.

    Each glance: queries from the LSTM state -> per-head softmax(query . key) over positions ->
    answers (attention-weighted values) -> LSTM step on [answers, queries] -> logits of that
    glance from the new state. Input is (B, 3, H, W) in [0, 1].
    """

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        if config.arch != "s3ta":
            raise ValueError(f"S3TA needs arch='s3ta', got {config.arch!r}")
        self.config = config
        self.normalize = InputNormalize(config.mean, config.std)
        self.backbone = build_backbone(config.backbone, config.backbone_widths, config.output_stride)
        basis = SpatialBasis(config.basis_size)
        self.encoder = KeyValueEncoder(self.backbone.out_channels, config.key_channels,
                                       config.value_channels, basis)
        key_dim = config.key_channels + basis.channels
        value_dim = config.value_channels + basis.channels
        self.controller = Controller(config.heads, key_dim, value_dim, config.lstm_size,
                                     config.query_hidden)
        self.head = MLP(config.lstm_size, config.head_hidden, config.num_classes)

    def forward(self, x: torch.Tensor, glances: int | None = None) -> ModelOutput:
        check_images(x)
        n = check_glances(self.config.glances if glances is None else glances)
        features = self.backbone(self.normalize(x))  # (B, C, h, w)
        b, _, h, w = features.shape
        keys, values = self.encoder(features)  # (B, h*w, dk), (B, h*w, dv)
        state = self.controller.initial_state(b, keys)
        step_logits, maps = [], []
        for _ in range(n):
            queries = self.controller.queries(state[0])  # (B, heads, dk)
            answers, attention = attend(queries, keys, values)  # (B, heads, dv), (B, heads, h*w)
            state = self.controller.step(answers, queries, state)
            step_logits.append(self.head(state[0]))  # (B, C)
            maps.append(attention.view(b, -1, h, w))  # (B, heads, h, w)
        step = torch.stack(step_logits, dim=1)  # (B, N, C)
        return ModelOutput(step[:, -1], step, torch.stack(maps, dim=1))  # attention (B, N, heads, h, w)
