"""The training recipe, validated when built; stored in each checkpoint next to the model config."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from model.attacks import AttackConfig
from model.config import ModelConfig
from model.data import CANVAS_TASKS
from model.data.cued import CUED_TASKS
from model.data.splits import FINAL

__all__ = ["AdvConfig", "TrainConfig", "load_configs", "TASKS"]

TASKS = (*CANVAS_TASKS, "imagefolder")
OPTIMIZERS = ("adamw", "sgd")
ADV_METHODS = ("none", "pgd", "fgsm")


@dataclass
class AdvConfig:
    """Adversarial training: method none|pgd|fgsm, towards a random wrong class per example."""

    method: str = "none"
    eps: float = 8 / 255
    steps: int = 7
    step_size: float | None = None  # None: 2.5*eps/steps for pgd, 1.25*eps for fgsm
    target: str = "random"

    def __post_init__(self) -> None:
        if self.method not in ADV_METHODS:
            raise ValueError(f"adv.method must be one of {ADV_METHODS}, got {self.method!r}")
        self.attack()  # the attack settings themselves are checked by AttackConfig

    def attack(self) -> AttackConfig | None:
        """The attack that crafts each training batch, or None for clean training."""
        if self.method == "none":
            return None
        steps = 1 if self.method == "fgsm" else self.steps
        alpha = self.step_size or (1.25 * self.eps if self.method == "fgsm" else 2.5 * self.eps / steps)
        return AttackConfig(norm="linf", eps=self.eps, steps=steps, step_size=alpha,
                            target=self.target, random_start=True, restarts=1, early_stop=True)


@dataclass
class TrainConfig:
    """The training recipe (data, optimisation, glances, adversarial examples, scale options)."""

    task: str = "cluttered-fashion-mnist"  # a canvas task (model.data.CANVAS_TASKS) or "imagefolder"
    data_root: str | None = None  # imagefolder: root with train/ (and val/); fmnist: IDX folder
    train_size: int = 60000  # canvases per epoch (fresh ones every epoch)
    val_size: int = 500  # validation examples scored after each epoch (canvases, or folder images)
    epochs: int = 10
    batch_size: int = 128  # per process
    optimizer: str = "adamw"
    lr: float = 2e-3
    weight_decay: float = 5e-4
    momentum: float = 0.9
    warmup_steps: int = 100
    grad_clip: float = 5.0
    glances_min: int = 1
    glances_max: int = 16
    loss: str = "all"  # "all": mean cross-entropy over every glance; "last": the last glance only
    adv: AdvConfig = field(default_factory=AdvConfig)
    noise_eps: float = 0.0  # > 0: add random-sign noise of amplitude U(0, noise_eps) per image (a judge
    # that must still read images carrying an L-inf perturbation of that size, without seeing attacks)
    guide_weight: float = 0.0  # cued tasks: > 0 pulls glance 1's attention onto the cue and later
    # glances' onto the named item (programs/train/guide.py), fading linearly to 0 ...
    guide_fraction: float = 0.5  # ... at this fraction of the run's steps; plain training after
    seed: int = 0
    num_workers: int = 0
    init_from: str | None = None  # start from these weights (e.g. a clean run), fresh optimizer
    backbone_weights: str | None = None  # a torchvision-format ResNet state dict (.pth/.safetensors)
    accum_steps: int = 1  # micro-batches per optimizer step: global batch = batch_size*world*accum
    steps_per_epoch: int | None = None  # optimizer steps per epoch (None: the whole data set)
    amp: str = "none"  # "bf16": autocast the forward passes (training and attack) to bfloat16
    channels_last: bool = False  # NHWC memory format for the convolutions (faster on GPUs)
    compile: bool = False  # torch.compile the training forward (one graph per glance count)
    augment: bool = True  # imagefolder: random resized crop + flip (else resize + centre crop)
    crop_fraction: float = 0.875  # imagefolder evaluation: resize to size/crop_fraction, centre crop
    class_names_file: str | None = None  # imagefolder: "<folder> <readable name>" per line (e.g.
    # ImageNet's LOC_synset_mapping.txt), so checkpoints carry names, not WordNet ids

    def __post_init__(self) -> None:
        if isinstance(self.adv, dict):
            self.adv = AdvConfig(**self.adv)
        if self.task not in TASKS:
            raise ValueError(f"train.task must be one of {TASKS}, got {self.task!r}")
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"train.optimizer must be one of {OPTIMIZERS}, got {self.optimizer!r}")
        if self.loss not in ("all", "last"):
            raise ValueError(f"train.loss must be 'all' or 'last', got {self.loss!r}")
        if self.amp not in ("none", "bf16"):
            raise ValueError(f"train.amp must be 'none' or 'bf16', got {self.amp!r}")
        for name in ("epochs", "batch_size", "train_size", "val_size", "accum_steps"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"train.{name} must be an integer >= 1, got {value!r}")
        if self.task in CANVAS_TASKS and self.val_size > FINAL.start:
            raise ValueError(f"train.val_size must be <= {FINAL.start} on a canvas task (test canvases from "
                             f"{FINAL.start} hold the final set's items), got {self.val_size}")
        if self.steps_per_epoch is not None and self.steps_per_epoch < 1:
            raise ValueError(f"train.steps_per_epoch must be >= 1 or null, got {self.steps_per_epoch!r}")
        if not 1 <= self.glances_min <= self.glances_max:
            raise ValueError(f"need 1 <= glances_min <= glances_max, got {self.glances_min}, {self.glances_max}")
        if not (isinstance(self.noise_eps, (int, float)) and 0 <= self.noise_eps <= 1):
            raise ValueError(f"train.noise_eps must be in [0, 1], got {self.noise_eps!r}")
        if not (isinstance(self.guide_weight, (int, float)) and self.guide_weight >= 0):
            raise ValueError(f"train.guide_weight must be >= 0, got {self.guide_weight!r}")
        if self.guide_weight > 0 and self.task not in CUED_TASKS:
            raise ValueError(f"train.guide_weight needs a cued task (one of {sorted(CUED_TASKS)}), got {self.task!r}")
        if not (isinstance(self.guide_fraction, (int, float)) and 0 < self.guide_fraction <= 1):
            raise ValueError(f"train.guide_fraction must be in (0, 1], got {self.guide_fraction!r}")
        if not self.lr > 0:
            raise ValueError(f"train.lr must be > 0, got {self.lr!r}")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        """Rebuild from a JSON object; unknown keys are an error, not silently dropped."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown train config keys: {unknown}")
        return cls(**data)


def load_configs(path: Path | None, overrides: Sequence[str] = ()) -> tuple[ModelConfig, TrainConfig]:
    """The model and training configs of a JSON file (sections ``model`` and ``train``) with
    ``--set section.key=value`` overrides applied (values parsed as JSON, else kept as text)."""
    raw: dict[str, Any] = {"model": {}, "train": {}}
    if path:
        raw.update(json.loads(Path(path).read_text()))
        raw.pop("_comment", None)  # configs may explain themselves
    for item in overrides:
        key, sep, value = item.partition("=")
        section, _, name = key.partition(".")
        if not sep or section not in ("model", "train") or not name:
            raise SystemExit(f"--set expects model.KEY=VALUE or train.KEY=VALUE, got {item!r}")
        try:
            parsed = json.loads(value)
        except json.JSONDecodeError:
            parsed = value
        target = raw.setdefault(section, {})
        *parents, leaf = name.split(".")
        for part in parents:
            target = target.setdefault(part, {})
        target[leaf] = parsed
    return ModelConfig.from_dict(raw["model"]), TrainConfig.from_dict(raw["train"])
