"""S3TA: soft, sequential, spatial, top-down attention classifier (Zoran et al. 2019)."""

from __future__ import annotations

import torch

from .attention import KeyValueEncoder, attend
from .backbone import build_backbone
from .checks import MAX_GLANCES, check_glances, check_images
from .classifier import Classifier
from .config import ModelConfig
from .controller import MLP, Controller
from .normalize import InputNormalize
from .output import ModelOutput
from .spatial_basis import SpatialBasis

__all__ = ["S3TA"]


class S3TA(Classifier):
    """ResNet keys/values + spatial basis, read by an LSTM controller over ``glances`` steps.

    Each glance: queries from the LSTM state -> per-head softmax(query . key) over positions ->
    answers (attention-weighted values) -> LSTM step on [answers, queries] -> logits of that
    glance from the new state. Input is (B, 3, H, W) in [0, 1].
    """

    arch = "s3ta"
    has_attention = True
    max_glances = MAX_GLANCES

    def __init__(self, config: ModelConfig) -> None:
        super().__init__(config)
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

    @property
    def feature_dim(self) -> int:
        return self.backbone.out_channels + self.config.lstm_size

    @property
    def state_dim(self) -> int:
        return self.config.lstm_size

    @property
    def heads(self) -> int:
        return self.config.heads

    @property
    def default_glances(self) -> int:
        return self.config.glances

    def forward(self, x: torch.Tensor, glances: int | None = None) -> ModelOutput:
        check_images(x)
        n = check_glances(self.default_glances if glances is None else glances)
        features = self.backbone(self.normalize(x))  # (B, C, h, w)
        b, _, h, w = features.shape
        keys, values = self.encoder(features)  # (B, h*w, dk), (B, h*w, dv)
        state = self.controller.initial_state(b, keys)
        step_logits, maps, states = [], [], []
        for _ in range(n):
            queries = self.controller.queries(state[0])  # (B, heads, dk)
            answers, attention = attend(queries, keys, values)  # (B, heads, dv), (B, heads, h*w)
            state = self.controller.step(answers, queries, state)
            states.append(state[0])  # (B, lstm)
            step_logits.append(self.head(state[0]))  # (B, C)
            maps.append(attention.view(b, -1, h, w))  # (B, heads, h, w)
        step = torch.stack(step_logits, dim=1)  # (B, N, C)
        # attention (B, N, heads, h, w); features: what it saw (the pooled backbone features) and what
        # it concluded (the LSTM state the last logits are read from), (B, C + lstm)
        seen = features.mean(dim=(2, 3))
        return ModelOutput(step[:, -1], step, torch.stack(maps, dim=1), torch.cat([seen, state[0]], dim=1),
                           torch.stack(states, dim=1))  # step_states (B, N, lstm)
