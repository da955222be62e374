"""One typed config for every architectural choice; stored in each checkpoint."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

from .registry import check_arch

__all__ = ["ModelConfig", "IMAGENET_MEAN", "IMAGENET_STD"]

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass
class ModelConfig:
    """Architecture of an S3TA model or of its same-backbone global-average-pooling baseline."""

    arch: str = "s3ta"  # a name in model.registry.ARCHITECTURES
    num_classes: int = 10
    image_size: int = 96  # square input side the model was trained at
    backbone: str = "small"  # see model.backbone.BACKBONES
    backbone_widths: tuple[int, ...] | None = None  # None: the backbone's defaults
    output_stride: int | None = None  # None: the backbone's natural stride
    key_channels: int = 32
    value_channels: int = 32
    basis_size: int = 6  # spatial basis: basis_size**2 cosine products
    heads: int = 4
    lstm_size: int = 128
    query_hidden: int = 128
    head_hidden: int = 128
    glances: int = 4  # default unroll length; forward(..., glances=n) overrides it
    belief_query: bool = False  # photo_attention: each head also looks where its current class has evidence
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD
    extra: dict[str, Any] = field(default_factory=dict)  # free-form notes, not architecture

    def __post_init__(self) -> None:
        check_arch(self.arch)
        positive = ("num_classes", "image_size", "key_channels", "value_channels", "basis_size",
                    "heads", "lstm_size", "query_hidden", "head_hidden", "glances")
        for name in positive:
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if self.backbone_widths is not None:
            self.backbone_widths = tuple(int(w) for w in self.backbone_widths)
        self.mean = tuple(float(m) for m in self.mean)  # type: ignore[assignment]
        self.std = tuple(float(s) for s in self.std)  # type: ignore[assignment]
        if len(self.mean) != 3 or len(self.std) != 3 or min(self.std) <= 0:
            raise ValueError("mean and std must hold 3 values each, std > 0")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelConfig:
        """Rebuild from ``to_dict`` output; unknown keys are an error, not silently dropped."""
        if not isinstance(data, dict):
            raise ValueError(f"model config must be a JSON object, got {type(data).__name__}")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown model config keys: {unknown}")
        return cls(**data)
