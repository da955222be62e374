"""What every model in the project supports, asked of the model instead of its ``arch`` string."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from torch import nn

from .checks import MAX_GLANCES, check_glances
from .config import ModelConfig
from .domain import DomainGaussian
from .info import CheckpointInfo
from .projection import BeliefProjection
from .registry import register

__all__ = ["Classifier"]


class Classifier(nn.Module):
    """Base of every model: images (B, 3, H, W) in [0, 1] -> ``ModelOutput``.

    Subclasses set ``has_attention`` (learned attention maps, not a uniform stand-in) and
    ``max_glances`` (the longest unroll; 1 for a feed-forward model), and register themselves
    under their ``arch`` name in ``model.factory``.
    """

    arch: str = ""
    has_attention: bool = False
    max_glances: int = 1
    info: CheckpointInfo | None = None  # what the checkpoint it was loaded from says about it
    domain: DomainGaussian | None = None  # its training domain, when the checkpoint stores a fit
    projection: BeliefProjection | None = None  # the plane its belief is followed on, when stored

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.arch:
            register(cls)

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        if config.arch != self.arch:
            raise ValueError(f"{type(self).__name__} needs arch={self.arch!r}, got {config.arch!r}")
        self.config = config

    @property
    def metadata(self) -> Mapping[str, Any]:
        """The checkpoint's JSON metadata, read-only (empty for a model built in memory)."""
        return {} if self.info is None else self.info.raw

    @property
    def class_names(self) -> tuple[str, ...]:
        """The checkpoint's class names, or the class indices as text for a model built in memory."""
        return self.info.class_names if self.info is not None else tuple(map(str, range(self.config.num_classes)))

    @property
    def feature_dim(self) -> int:
        """The width D of ``ModelOutput.features`` (B, D)."""
        raise NotImplementedError

    @property
    def state_dim(self) -> int:
        """The width S of ``ModelOutput.step_states`` (B, N, S)."""
        raise NotImplementedError

    @property
    def heads(self) -> int:
        """Attention maps per glance."""
        return 1

    @property
    def default_glances(self) -> int:
        """The unroll used when a caller does not name one."""
        return 1

    @property
    def glance_counts(self) -> range:
        """Every glance count the model answers at (1 only, without recurrence)."""
        return range(1, self.max_glances + 1)

    def glances_for(self, glances: int | None) -> int:
        """The unroll a caller's request means: checked against the project-wide limit, and
        ``None`` meaning the default."""
        if glances is None:
            return self.default_glances
        return min(check_glances(glances, MAX_GLANCES), self.max_glances)
