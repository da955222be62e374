"""An attention head on a pretrained ImageNet classifier, for natural photos (not the paper's
model, not adversarially trained).

The frozen EfficientNet-Lite0 trunk (last stride dilated: a 14x14 map at 224 px; or the
original 7x7 with ``output_stride=32``) gives the values; learned 1x1 keys (no spatial basis: with it, attention
settles on fixed grid positions);
an LSTM emits the queries of ``heads`` heads each glance, reads a projection of what they
found, and the attended feature vector, mixed over heads, goes through the pretrained
classifier. With ``belief_query`` each head's attention logits also get, at a learned scale, the
classifier's evidence at each position for the classes the model believes so far (the even pooling's
answer before glance 1, then each glance's): top-down attention from the current guess.
With zero queries (and belief scales) attention is uniform and the model is exactly the pretrained
network (average pooling); distillation (``programs.distill``) teaches the queries where to
look so that a glance agrees with the teacher.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from .attention import attend
from .checks import MAX_GLANCES, check_glances, check_images
from .classifier import Classifier
from .config import ModelConfig
from .controller import MLP
from .efficientnet_lite import MEAN, STD, EfficientNetLite0, load_pretrained
from .output import ModelOutput

__all__ = ["PhotoAttention", "photo_config"]

TRUNK = "trunk."


def photo_config(**overrides: Any) -> ModelConfig:
    """The natural-photo model's config: 1,000 ImageNet classes at 224 px."""
    base = {"arch": "photo_attention", "num_classes": 1000, "image_size": 224, "backbone": "efficientnet_lite0",
            "output_stride": 16, "key_channels": 64, "value_channels": 64, "heads": 4, "lstm_size": 256,
            "query_hidden": 256, "glances": 4, "mean": MEAN, "std": STD}
    return ModelConfig(**{**base, **overrides})


class PhotoAttention(Classifier):
    """Frozen pretrained trunk + LSTM-driven multi-head soft attention over its feature map."""

    arch = "photo_attention"
    has_attention = True
    max_glances = MAX_GLANCES

    def __init__(self, config: ModelConfig) -> None:
        super().__init__(config)
        if config.num_classes != 1000 or config.output_stride not in (16, 32):
            raise ValueError("photo_attention reads through the pretrained ImageNet classifier: "
                             "num_classes must be 1000 and output_stride 16 (dilated, 14x14 at 224 px) or 32")
        dilate = config.output_stride == 16
        on_meta = torch.empty(0).device.type == "meta"  # a checkpoint's shape check: no weights to read
        self.trunk = EfficientNetLite0(dilate_last=dilate) if on_meta else load_pretrained(dilate_last=dilate)
        self.trunk.requires_grad_(False)
        channels = self.trunk._fc.in_features
        h, dk = config.heads, config.key_channels
        self.key = nn.Conv2d(channels, dk, 1)
        self.read = nn.Linear(channels, config.value_channels)  # what the LSTM takes in of an answer
        self.lstm = nn.LSTMCell(h * (config.value_channels + dk), config.lstm_size)
        self.query = MLP(config.lstm_size, config.query_hidden, h * dk)
        nn.init.zeros_(self.query[-1].weight)  # zero queries: uniform attention, the pretrained network
        nn.init.zeros_(self.query[-1].bias)
        self.mix = nn.Parameter(torch.zeros(h))  # softmax weights of the heads' answers
        # per-head scale of the belief's class evidence in the attention logits (zero: not used yet)
        self.belief = nn.Parameter(torch.zeros(h)) if config.belief_query else None

    @property
    def heads(self) -> int:
        return self.config.heads

    @property
    def default_glances(self) -> int:
        return self.config.glances

    def train(self, mode: bool = True) -> PhotoAttention:
        super().train(mode)
        self.trunk.eval()  # frozen: its batch-norm statistics stay the pretrained ones
        return self

    @property
    def feature_dim(self) -> int:
        return self.trunk._fc.in_features

    @property
    def state_dim(self) -> int:
        return self.trunk._fc.in_features

    def attend_map(self, fmap: torch.Tensor, glances: int) -> ModelOutput:
        """The head alone on a trunk feature map (B, C, h, w): distillation trains on cached maps."""
        b, _, hh, ww = fmap.shape
        keys = self.key(fmap).flatten(2).transpose(1, 2)  # (B, n, dk)
        values = fmap.flatten(2).transpose(1, 2)  # (B, n, C)
        state = (fmap.new_zeros(b, self.lstm.hidden_size), fmap.new_zeros(b, self.lstm.hidden_size))
        weights = self.mix.softmax(0)[None, :, None]
        step_logits, maps, reads = [], [], []
        belief = self.trunk._fc(values.mean(1)) if self.belief is not None else None  # even pooling's answer
        for _ in range(glances):
            queries = self.query(state[0]).view(b, self.heads, -1)  # (B, heads, dk)
            if belief is None:
                answers, attention = attend(queries, keys, values)  # (B, heads, C), (B, heads, n)
            else:  # one more key channel, the evidence for the believed classes, read at a per-head scale
                evidence = values @ (belief.softmax(-1) @ self.trunk._fc.weight)[:, :, None]  # (B, n, 1)
                scale = self.belief[None, :, None].expand(b, -1, 1)
                answers, attention = attend(torch.cat([queries, scale], -1), torch.cat([keys, evidence], -1), values)
            read = (answers * weights).sum(1)  # (B, C): what the classifier decodes
            reads.append(read)
            step_logits.append(self.trunk._fc(read))
            belief = step_logits[-1] if belief is not None else None
            state = self.lstm(torch.cat([self.read(answers).flatten(1), queries.flatten(1)], 1), state)
            maps.append(attention.view(b, -1, hh, ww))
        step = torch.stack(step_logits, dim=1)
        return ModelOutput(step[:, -1], step, torch.stack(maps, dim=1), read, torch.stack(reads, dim=1))

    def forward(self, x: torch.Tensor, glances: int | None = None) -> ModelOutput:
        check_images(x)
        n = check_glances(self.default_glances if glances is None else glances)
        return self.attend_map(self.trunk.features(x), n)

    # The trunk's weights come from the pretrained package, not from this model's checkpoints.
    def state_dict(self, *args: Any, **kwargs: Any) -> dict[str, torch.Tensor]:  # type: ignore[override]
        state = super().state_dict(*args, **kwargs)
        prefix = kwargs.get("prefix", "") + TRUNK
        for key in [k for k in state if k.startswith(prefix)]:
            del state[key]
        return state

    def load_state_dict(self, state_dict: Any, strict: bool = True, assign: bool = False) -> Any:
        trunk = {TRUNK + k: v for k, v in self.trunk.state_dict().items()}
        return super().load_state_dict({**trunk, **state_dict}, strict=strict, assign=assign)
