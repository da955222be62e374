"""The models the app offers: the shipped checkpoints, a models folder, uploaded files.

Only safetensors files with this project's metadata are listed or loaded (see
``model.checkpoint``); an upload is written to a private temporary file under a name this code
chooses, so nothing from the browser becomes a path.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from model.checkpoint import (
    DEFAULT_CHECKPOINT,
    CheckpointError,
    file_sha256,
    load_model,
    read_metadata,
)
from model.data import DEFAULT_TASK
from model.factory import ARCHITECTURES
from model.inference_form import inference_form

from .images import domain_warnings

__all__ = ["Entry", "list_checkpoints", "open_checkpoint", "load_uploaded", "describe", "models_dir",
           "better_fits", "compare_default", "partners", "race_baseline", "task_of", "MAX_CHECKPOINT_BYTES"]

MAX_CHECKPOINT_BYTES = 200 * 1024 * 1024  # the page's upload limit for checkpoints


@dataclass(frozen=True)
class Entry:
    """A checkpoint the app can open: a label for the menu, its path and metadata."""

    label: str
    path: Path
    metadata: dict[str, Any]

    @property
    def attends(self) -> bool:
        """Whether its registered class has attention (unknown architectures count as attending)."""
        cls = ARCHITECTURES.get((self.metadata.get("config") or {}).get("arch"))
        return cls is None or cls.has_attention

    @property
    def heads(self) -> int:
        """Attention maps per glance, from the metadata alone (before loading the weights)."""
        return int((self.metadata.get("config") or {}).get("heads", 1)) if self.attends else 1

    @property
    def task(self) -> str:
        return task_of(self.metadata)


def models_dir() -> Path:
    """``$S3TA_MODELS_DIR``, else ``models/`` in the working directory."""
    return Path(os.environ.get("S3TA_MODELS_DIR", "models"))


def list_checkpoints(folders: list[Path] | None = None) -> tuple[list[Entry], list[str]]:
    """(usable checkpoints, problems with the others); the shipped default comes first."""
    folders = folders if folders is not None else [DEFAULT_CHECKPOINT.parent, models_dir()]
    entries, problems, seen = [], [], set()
    paths = [DEFAULT_CHECKPOINT] + [p for f in folders if f.is_dir() for p in sorted(f.glob("*.safetensors"))]
    for path in paths:
        key = path.resolve()
        if key in seen:
            continue
        seen.add(key)
        try:
            meta = read_metadata(path)
        except CheckpointError as exc:
            problems.append(str(exc))
            continue
        where = "shipped" if path.parent.resolve() == DEFAULT_CHECKPOINT.parent.resolve() else str(path.parent)
        default = " (default)" if key == DEFAULT_CHECKPOINT.resolve() else ""
        entries.append(Entry(f"{path.stem}{default} · {where}", path, meta))
    return entries, problems


def open_checkpoint(path: str | Path, device: str | torch.device = "cpu", fast: bool = True) -> nn.Module:
    """The model the app runs for a checkpoint: its inference form (BatchNorm folded, channels
    last; not compiled, so nobody waits for a compiler), with the checkpoint's metadata; with
    ``fast=False`` the eager model itself (for comparison and debugging)."""
    model = load_model(path, device)
    return inference_form(model) if fast else model


def load_uploaded(data: bytes, device: str | torch.device = "cpu", fast: bool = True) -> nn.Module:
    """The inference form of an uploaded checkpoint's model; ``CheckpointError`` says what is wrong."""
    if len(data) > MAX_CHECKPOINT_BYTES:
        raise CheckpointError(f"the checkpoint is {len(data) / 2**20:.0f} MB; uploads are limited to "
                              f"{MAX_CHECKPOINT_BYTES // 2**20} MB (put larger ones in {models_dir()}/)")
    if not data:
        raise CheckpointError("the checkpoint file is empty")
    with tempfile.TemporaryDirectory(prefix="s3ta-upload-") as tmp:
        path = Path(tmp) / "upload.safetensors"
        path.write_bytes(data)
        model = open_checkpoint(path, device, fast)
        model.info = model.info.with_sha256(file_sha256(path))
    return model


# The programs moved (model/, then experiments/, now programs/) after some checkpoints were
# trained: recorded commands are shown under today's names, so they can be copied and run.
MOVED = {f"-m {old}.{job}": f"-m programs.{job}" for old in ("model", "experiments")
         for job in ("train", "evaluate", "distill")}


def current_command(command: str | None) -> str | None:
    """A recorded command with today's module names."""
    for old, new in MOVED.items():
        command = command.replace(old, new) if command else command
    return command


def _attack_recipe(adv: Any) -> str | None:
    """A training attack in words, epsilon in /255 as the page writes it."""
    if not isinstance(adv, dict):
        return None
    eps = adv.get("eps")
    size = f"eps {eps * 255:g}/255" if isinstance(eps, (int, float)) else "eps ?"
    steps = "" if adv.get("method") == "fgsm" else f", {adv.get('steps')} steps"
    return f"{adv.get('method', '?')}, {size}{steps}, towards {adv.get('target', 'random')} targets"


def describe(meta: dict[str, Any]) -> dict[str, Any]:
    """The parts of a checkpoint's metadata a person wants to see first."""
    config = meta.get("config", {})
    recipe = meta.get("recipe") or {}
    adv = _attack_recipe(recipe.get("adv")) if isinstance(recipe, dict) else None
    test = (meta.get("metrics") or {}).get("test") if isinstance(meta.get("metrics"), dict) else None
    return {"task": meta.get("task", "?"), "classes": len(meta.get("class_names", [])),
            "architecture": f"{config.get('arch')} · backbone {config.get('backbone')} · "
                            f"{config.get('image_size')} px · {config.get('heads', '-')} heads",
            "default glances": config.get("glances"),
            "adversarial training": adv, "epochs": recipe.get("epochs") if isinstance(recipe, dict) else None,
            "test metrics": test, "command": current_command(meta.get("command")),
            "wall time (s)": meta.get("wall_time_s")}


def task_of(meta: dict[str, Any], default: str = DEFAULT_TASK) -> str:
    """The task a checkpoint was trained on (older checkpoints record none: ``default``)."""
    return str(meta.get("task", default))


def compare_default(entries: list[Entry], task: str, default_task: str = DEFAULT_TASK) -> Entry:
    """What to compare a model of ``task`` with first: a listed model without attention (the
    pooling baseline) trained on the same task (shipped ones first, as listed), else
    ``baseline_default``, else the first entry."""
    baselines = [e for e in entries if not e.attends]
    return (next((e for e in baselines if task_of(e.metadata, default_task) == task), None)
            or next((e for e in entries if e.path.stem == "baseline_default"), entries[0]))


def partners(entries: list[Entry], class_names: Sequence[str], image_size: int, stem: str | None) -> list[Entry]:
    """The listed models (other than the one called ``stem``) one attack can be run on beside a model
    of ``class_names`` at ``image_size`` px: the same classes in the same order and the same input
    size, read from their metadata before loading them."""
    return [e for e in entries if e.path.stem != stem and list(e.metadata.get("class_names", [])) == list(class_names)
            and (e.metadata.get("config") or {}).get("image_size") == image_size]


def race_baseline(entries: list[Entry], metadata: dict[str, Any], has_attention: bool,
                  default_task: str = DEFAULT_TASK) -> Entry | None:
    """The listed pooling baseline of the same task to draw beside an attention model's stored race
    (``compare_default``'s pick, when it is of that task and stores a race), else None."""
    if not has_attention or not entries:
        return None
    task = task_of(metadata, default_task)
    base = compare_default(entries, task, default_task)
    race = (base.metadata.get("metrics") or {}).get("race")
    if base.attends or task_of(base.metadata, default_task) != task or not isinstance(race, dict):
        return None
    return base


def better_fits(image: np.ndarray, entries: list[Entry], current: str | None) -> list[Entry]:
    """For an image far from the current model's training inputs: the other listed models
    (``current`` is the open one's file stem) whose training inputs it is not far from, judged
    by the same check (``compute.images.domain_warnings``) on each checkpoint's ``input_stats``."""
    return [e for e in entries if e.path.stem != current and e.metadata.get("input_stats")
            and not domain_warnings(image, e.metadata["input_stats"])]
