"""What a checkpoint says about itself, as one typed record validated once when it is read:
its config, class names, task, preferred input fit, training-image statistics and measured
metrics. Callers read fields instead of looking up string keys in a JSON dict."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from .config import ModelConfig
from .data.canvases import DEFAULT_TASK

__all__ = ["CheckpointInfo", "INPUT_FITS"]

INPUT_FITS = ("letterbox", "resize", "crop")  # how an image of another shape is made square


def _mapping(meta: Mapping[str, Any], key: str) -> dict[str, Any]:
    value = meta.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ValueError(f"'{key}' must be a JSON object, got {type(value).__name__}")
    return value


@dataclass(frozen=True)
class CheckpointInfo:
    """A checkpoint's metadata. ``raw`` keeps the whole JSON (not to be changed) for the full view and
    for programs that record it; every other field is checked in ``from_metadata``."""

    config: ModelConfig
    class_names: tuple[str, ...]
    task: str = DEFAULT_TASK
    description: str = ""
    input_fit: str = "letterbox"
    input_stats: dict[str, Any] | None = None
    metrics: dict[str, Any] = field(default_factory=dict)
    recipe: dict[str, Any] = field(default_factory=dict)
    command: str | None = None
    wall_time_s: float | None = None
    sha256: str | None = None  # of the file, when the loader computed it
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_metadata(cls, meta: Mapping[str, Any]) -> CheckpointInfo:
        """The record of a checkpoint's JSON metadata; ``ValueError`` says what is wrong."""
        if not isinstance(meta, Mapping) or "config" not in meta or "class_names" not in meta:
            raise ValueError("metadata needs 'config' and 'class_names'")
        try:
            config = ModelConfig.from_dict(meta["config"])
        except (TypeError, ValueError) as exc:
            raise ValueError(f"bad model config: {exc}") from exc
        names = meta["class_names"]
        if not isinstance(names, list) or len(names) != config.num_classes:
            raise ValueError(f"class_names must list {config.num_classes} names")
        fit = meta.get("input_fit") or "letterbox"
        if fit not in INPUT_FITS:
            raise ValueError(f"input_fit must be one of {INPUT_FITS}, got {fit!r}")
        stats = meta.get("input_stats")
        wall = meta.get("wall_time_s")
        command = meta.get("command")
        return cls(config=config, class_names=tuple(str(n) for n in names), task=str(meta.get("task") or DEFAULT_TASK),
                   description=str(meta.get("description") or ""), input_fit=fit,
                   input_stats=stats if isinstance(stats, dict) and stats else None,
                   metrics=_mapping(meta, "metrics"), recipe=_mapping(meta, "recipe"),
                   command=str(command) if command else None,
                   wall_time_s=float(wall) if isinstance(wall, (int, float)) else None,
                   sha256=str(meta["sha256"]) if meta.get("sha256") else None,
                   raw=dict(meta))

    def with_sha256(self, sha256: str) -> CheckpointInfo:
        return replace(self, sha256=sha256, raw={**self.raw, "sha256": sha256})

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def test_metrics(self) -> dict[str, Any] | None:
        """The metrics measured on the task's test canvases, when the evaluation stored them."""
        test = self.metrics.get("test")
        return test if isinstance(test, dict) else None

    @property
    def race(self) -> dict[str, Any] | None:
        """The robustness grid the evaluation stored (``metrics.race``), or None."""
        race = self.metrics.get("race")
        return race if isinstance(race, dict) else None
