"""What every model in the project supports, asked of the model instead of its ``arch`` string."""

from __future__ import annotations

from torch import nn

from .checks import MAX_GLANCES, check_glances
from .config import ModelConfig

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

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        if config.arch != self.arch:
            raise ValueError(f"{type(self).__name__} needs arch={self.arch!r}, got {config.arch!r}")
        self.config = config

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
