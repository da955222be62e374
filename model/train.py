"""Train S3TA or the baseline, clean or adversarially, on one process or many (DDP).

One process (CPU or one GPU)::

    python -m model.train --config configs/s3ta_clean.json --out runs/s3ta_clean

Many processes, one per GPU (or CPU processes with gloo)::

    torchrun --nproc_per_node=4 -m model.train --config configs/s3ta_clean.json --out runs/x

Adversarial training follows Zoran et al. (2019): each batch is replaced by PGD examples aimed at
a random wrong class per example, crafted with BatchNorm in inference mode; ``adv.method="fgsm"``
is the one-step variant with random start (Wong et al. 2020). Every batch is unrolled for a
glance count drawn from [glances_min, glances_max] and the loss averages the cross-entropy of
every glance's logits, so one set of weights answers sensibly at any count in that range.
Rank 0 logs (progress bar, ``metrics.json``) and saves ``last.safetensors`` every epoch (model,
optimizer and schedule, for ``--resume``) and ``model.safetensors`` at the end.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import platform
import shlex
import sys
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, Dataset, DistributedSampler, Subset

from .attacks import AttackConfig, pgd
from .backbone import load_backbone_weights
from .checkpoint import file_sha256, load_checkpoint, save_checkpoint
from .distributed import all_reduce_sum, setup_distributed
from .config import ModelConfig
from .data import CLASS_NAMES, ClutteredFashionMNIST, ImageFolder
from .data.stats import input_stats
from .data.transforms import EvalTransform, TrainTransform
from .factory import build_model

__all__ = ["TrainConfig", "AdvConfig", "main", "get_args_parser", "train_one_epoch", "evaluate"]

TASKS = ("cluttered-fashion-mnist", "imagefolder")


@dataclass
class AdvConfig:
    """Adversarial training: method none|pgd|fgsm, towards a random wrong class per example."""

    method: str = "none"
    eps: float = 8 / 255
    steps: int = 7
    step_size: float | None = None  # None: 2.5*eps/steps for pgd, 1.25*eps for fgsm
    target: str = "random"

    def attack(self) -> AttackConfig | None:
        if self.method == "none":
            return None
        if self.method not in ("pgd", "fgsm"):
            raise ValueError(f"adv.method must be none, pgd or fgsm, got {self.method!r}")
        steps = 1 if self.method == "fgsm" else self.steps
        alpha = self.step_size or (1.25 * self.eps if self.method == "fgsm" else 2.5 * self.eps / steps)
        return AttackConfig(norm="linf", eps=self.eps, steps=steps, step_size=alpha,
                            target=self.target, random_start=True, restarts=1, early_stop=True)


@dataclass
class TrainConfig:
    """The training recipe; stored in the checkpoint next to the model config."""

    task: str = "cluttered-fashion-mnist"
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
    adv: AdvConfig = field(default_factory=AdvConfig)
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
        if self.amp not in ("none", "bf16"):
            raise ValueError(f"train.amp must be 'none' or 'bf16', got {self.amp!r}")
        if not isinstance(self.accum_steps, int) or self.accum_steps < 1:
            raise ValueError(f"train.accum_steps must be an integer >= 1, got {self.accum_steps!r}")
        if self.steps_per_epoch is not None and self.steps_per_epoch < 1:
            raise ValueError(f"train.steps_per_epoch must be >= 1 or null, got {self.steps_per_epoch!r}")
        if not 1 <= self.glances_min <= self.glances_max:
            raise ValueError(f"need 1 <= glances_min <= glances_max, got {self.glances_min}, {self.glances_max}")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "TrainConfig":
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown train config keys: {unknown}")
        data = dict(data)
        data["adv"] = AdvConfig(**data.get("adv", {}))
        return cls(**data)


def get_args_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", type=Path, help="JSON file with 'model' and 'train' sections")
    p.add_argument("--out", type=Path, required=True, help="output folder")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config entry, e.g. train.epochs=2 or model.heads=2 (JSON values)")
    p.add_argument("--resume", type=Path, help="a last.safetensors to continue from")
    p.add_argument("--stop-after", type=int, default=None, metavar="EPOCHS",
                   help="leave after this many epochs of this run (e.g. a job's time limit); "
                        "continue later with --resume")
    p.add_argument("--device", default=None, help="cpu, cuda, cuda:1 (default: cuda if available)")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads per process")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    return p


def load_configs(args: argparse.Namespace) -> tuple[ModelConfig, TrainConfig]:
    raw: dict[str, Any] = {"model": {}, "train": {}}
    if args.config:
        raw.update(json.loads(args.config.read_text()))
        raw.pop("_comment", None)  # configs may explain themselves
    for item in args.overrides:
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


# ----------------------------------------------------------------------------- data
def build_datasets(cfg: TrainConfig, image_size: int) -> tuple[Any, Any, list[str]]:
    if cfg.task == "cluttered-fashion-mnist":
        train = ClutteredFashionMNIST("train", cfg.train_size, seed=cfg.seed, root=cfg.data_root)
        val = ClutteredFashionMNIST("test", cfg.val_size, seed=1_000_003, root=cfg.data_root)
        return train, val, list(CLASS_NAMES)
    if cfg.task == "imagefolder":
        if not cfg.data_root:
            raise ValueError("task imagefolder needs train.data_root (a folder with train/ and val/)")
        root = Path(cfg.data_root)
        evaluation = EvalTransform(image_size, cfg.crop_fraction)
        train = ImageFolder(root / "train", image_size,
                            TrainTransform(image_size, cfg.seed) if cfg.augment else evaluation)
        val_root = root / "val" if (root / "val").is_dir() else root / "train"
        val = ImageFolder(val_root, image_size, evaluation, classes=train.classes)
        if cfg.val_size < len(val):  # an even spread over the (class-sorted) folder
            picks = np.linspace(0, len(val) - 1, cfg.val_size).round().astype(int)
            val = Subset(val, np.unique(picks).tolist())
        return train, val, readable_names(train.classes, cfg.class_names_file)
    raise ValueError(f"task must be one of {TASKS}, got {cfg.task!r}")


def readable_names(folders: list[str], mapping_file: str | None) -> list[str]:
    """Class names for the checkpoint: the folder names, or their readable names from a
    "<folder> <name>" per line file (the first comma-separated name is kept)."""
    if not mapping_file:
        return list(folders)
    table = {}
    for line in Path(mapping_file).read_text().splitlines():
        key, _, name = line.strip().partition(" ")
        if key:
            table[key] = name.split(",")[0].strip() or key
    missing = [f for f in folders if f not in table]
    if missing:
        raise ValueError(f"{mapping_file} names no class for folders {missing[:5]} ({len(missing)} in all)")
    return [table[f] for f in folders]


# ----------------------------------------------------------------------------- training
def make_optimizer(model: nn.Module, cfg: TrainConfig) -> torch.optim.Optimizer:
    decay = [p for n, p in model.named_parameters() if p.ndim > 1]
    no_decay = [p for n, p in model.named_parameters() if p.ndim <= 1]
    groups = [{"params": decay, "weight_decay": cfg.weight_decay},
              {"params": no_decay, "weight_decay": 0.0}]
    if cfg.optimizer == "adamw":
        return torch.optim.AdamW(groups, lr=cfg.lr)
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(groups, lr=cfg.lr, momentum=cfg.momentum, nesterov=True)
    raise ValueError(f"optimizer must be adamw or sgd, got {cfg.optimizer!r}")


def lr_at(step: int, total: int, cfg: TrainConfig) -> float:
    """Linear warm-up then cosine decay to zero."""
    if step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / cfg.warmup_steps
    progress = (step - cfg.warmup_steps) / max(1, total - cfg.warmup_steps)
    return cfg.lr * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))


def glance_loss(step_logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy over every glance's logits (B, N, C)."""
    n = step_logits.shape[1]
    return F.cross_entropy(step_logits.flatten(0, 1), labels.repeat_interleave(n))


def autocast(device: torch.device, cfg: TrainConfig) -> Any:
    """bfloat16 autocast of forward passes when ``train.amp == "bf16"`` (no loss scaling needed)."""
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=cfg.amp == "bf16")


def adversarial_batch(raw: nn.Module, x: torch.Tensor, y: torch.Tensor, attack: AttackConfig,
                      glances: int, seed: int, cfg: TrainConfig | None = None) -> torch.Tensor:
    """PGD/FGSM examples with BatchNorm in inference mode; the model is put back in train mode."""
    raw.eval()
    try:
        with autocast(x.device, cfg or TrainConfig()):
            result = pgd(raw, x, y, attack, glances=glances, seed=seed)
    finally:
        raw.train()
    return result.images


def _micro_batches(loader: DataLoader, accum: int, limit: int | None):
    """Groups of ``accum`` consecutive batches, at most ``limit`` groups (an incomplete last
    group is dropped, so every optimizer step sees the same amount of data)."""
    group: list = []
    steps = 0
    for batch in loader:
        group.append(batch)
        if len(group) == accum:
            yield group
            group = []
            steps += 1
            if limit is not None and steps >= limit:
                return


def steps_in_epoch(loader: DataLoader, cfg: TrainConfig) -> int:
    n = len(loader) // cfg.accum_steps
    return n if cfg.steps_per_epoch is None else min(n, cfg.steps_per_epoch)


def train_one_epoch(model: nn.Module, raw: nn.Module, loader: DataLoader,
                    optimizer: torch.optim.Optimizer, cfg: TrainConfig, epoch: int, start_step: int,
                    total_steps: int, device: torch.device, rank: int, world: int,
                    progress: bool, forward: nn.Module | None = None) -> tuple[dict[str, float], int]:
    """One epoch of optimizer steps, each over ``accum_steps`` micro-batches (gradients are
    all-reduced once per step: ``no_sync`` on the others). ``forward`` is the module that runs
    the training forward (the compiled one with ``train.compile``)."""
    model.train()
    forward = forward if forward is not None else model  # (a compiled module has no truth value)
    attack = cfg.adv.attack()
    sums = [0.0, 0.0, 0.0]  # loss*n, correct, n
    step = start_step
    groups = _micro_batches(loader, cfg.accum_steps, cfg.steps_per_epoch)
    bar = None
    if progress and rank == 0:
        from tqdm import tqdm
        bar = tqdm(groups, total=steps_in_epoch(loader, cfg), desc=f"epoch {epoch + 1}/{cfg.epochs}",
                   dynamic_ncols=True, leave=False)
        groups = bar
    fmt = torch.channels_last if cfg.channels_last else torch.contiguous_format
    for group in groups:
        # The same glance count on every rank and micro-batch: drawn from (seed, step) alone.
        g = torch.Generator().manual_seed(cfg.seed * 1_000_003 + step)
        glances = int(torch.randint(cfg.glances_min, cfg.glances_max + 1, (1,), generator=g))
        for pg in optimizer.param_groups:
            pg["lr"] = lr_at(step, total_steps, cfg)
        optimizer.zero_grad(set_to_none=True)
        for micro, batch in enumerate(group):
            x = batch[0].to(device, non_blocking=True).contiguous(memory_format=fmt)
            y = batch[1].to(device, non_blocking=True)
            if attack is not None:
                x = adversarial_batch(raw, x, y, attack, glances,
                                      seed=cfg.seed * 1_000_003 + step * 97 + rank + micro * 7919, cfg=cfg)
            last = micro == len(group) - 1
            sync = model.no_sync() if (world > 1 and not last) else contextlib.nullcontext()
            with sync:
                with autocast(device, cfg):
                    out = forward(x, glances=glances)
                loss = glance_loss(out.step_logits.float(), y)
                (loss / len(group)).backward()
            n = y.shape[0]
            sums[0] += loss.item() * n
            sums[1] += float((out.logits.argmax(1) == y).sum())
            sums[2] += n
        if cfg.grad_clip > 0:
            nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        optimizer.step()
        step += 1
        if bar is not None:
            bar.set_postfix(loss=f"{sums[0] / sums[2]:.3f}", acc=f"{sums[1] / sums[2]:.3f}",
                            glances=glances, lr=f"{optimizer.param_groups[0]['lr']:.2e}")
    loss_sum, correct, count = all_reduce_sum(sums, device)
    key = "train_adv" if attack is not None else "train"
    return {f"{key}_loss": loss_sum / max(count, 1), f"{key}_acc": correct / max(count, 1)}, step


@torch.no_grad()
def evaluate(raw: nn.Module, loader: DataLoader, device: torch.device,
             glances: tuple[int, ...]) -> dict[str, float]:
    """Clean accuracy at each glance count in ``glances`` (all ranks' shards summed)."""
    was_training = raw.training
    raw.eval()
    sums = [0.0] * (len(glances) + 1)
    for batch in loader:
        x, y = batch[0].to(device), batch[1].to(device)
        out = raw(x, glances=max(glances))
        for i, n in enumerate(glances):
            sums[i] += float((out.step_logits[:, n - 1].argmax(1) == y).sum())
        sums[-1] += y.shape[0]
    raw.train(was_training)
    totals = all_reduce_sum(sums, device)
    return {f"val_acc@{n}": totals[i] / totals[-1] for i, n in enumerate(glances)}


def hardware() -> str:
    if torch.cuda.is_available():
        return f"{torch.cuda.device_count()}x {torch.cuda.get_device_name(0)}"
    return f"CPU {platform.processor() or platform.machine()}, {os.cpu_count()} cores, " \
           f"{torch.get_num_threads()} torch threads"


def optimizer_tensors(optimizer: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], dict]:
    """Optimizer state as flat tensors plus a JSON-able rest (no pickle)."""
    state = optimizer.state_dict()
    tensors, scalars = {}, {}
    for idx, entry in state["state"].items():
        for k, v in entry.items():
            if torch.is_tensor(v):
                tensors[f"optimizer.{idx}.{k}"] = v
            else:
                scalars[f"{idx}.{k}"] = v
    groups = [{k: v for k, v in g.items()} for g in state["param_groups"]]
    return tensors, {"scalars": scalars, "param_groups": groups}


def restore_optimizer(optimizer: torch.optim.Optimizer, tensors: dict[str, torch.Tensor],
                      info: dict) -> None:
    state: dict[int, dict[str, Any]] = {}
    for key, v in tensors.items():
        if key.startswith("optimizer."):
            _, idx, name = key.split(".", 2)
            state.setdefault(int(idx), {})[name] = v
    for key, v in info["scalars"].items():
        idx, name = key.split(".", 1)
        state.setdefault(int(idx), {})[name] = v
    optimizer.load_state_dict({"state": state, "param_groups": info["param_groups"]})


def main(args: argparse.Namespace) -> dict[str, Any]:
    if args.threads:
        torch.set_num_threads(args.threads)
    model_cfg, cfg = load_configs(args)
    rank, world, device = setup_distributed(args.device)
    torch.manual_seed(cfg.seed)
    t0 = time.time()
    metadata: dict[str, Any] = {}
    history: list[dict[str, Any]] = []
    start_epoch = 0
    model = build_model(model_cfg).to(device)
    optimizer = make_optimizer(model, cfg)
    if args.resume:
        loaded, meta, extra = load_checkpoint(args.resume, device)
        model.load_state_dict(loaded.state_dict())
        restore_optimizer(optimizer, extra, meta["training_state"]["optimizer"])
        start_epoch = meta["training_state"]["epoch"]
        history = meta.get("history", [])
        t0 -= meta.get("wall_time_s", 0.0)
    elif cfg.init_from:
        loaded, meta, _ = load_checkpoint(cfg.init_from, device)
        model.load_state_dict(loaded.state_dict())
        metadata["init_from"] = {"path": cfg.init_from, "recipe": meta.get("recipe"),
                                 "command": meta.get("command"), "wall_time_s": meta.get("wall_time_s")}
    elif cfg.backbone_weights:
        load_backbone_weights(model.backbone, cfg.backbone_weights, device)
        metadata["backbone_weights"] = {"path": cfg.backbone_weights, "sha256": file_sha256(cfg.backbone_weights)}
    if cfg.channels_last:
        model = model.to(memory_format=torch.channels_last)
    raw = model
    if world > 1:
        model = nn.parallel.DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)
    forward = torch.compile(model) if cfg.compile else model

    train_set, val_set, class_names = build_datasets(cfg, model_cfg.image_size)
    metadata["input_stats"] = training_input_stats(train_set)
    if isinstance(train_set, ImageFolder):  # evaluation maps folders to indices through these
        metadata["class_folders"] = list(train_set.classes)
    sampler = DistributedSampler(train_set, world, rank, shuffle=True, seed=cfg.seed) if world > 1 else None
    val_sampler = DistributedSampler(val_set, world, rank, shuffle=False) if world > 1 else None
    loader_gen = torch.Generator().manual_seed(cfg.seed)
    loader = DataLoader(train_set, cfg.batch_size, shuffle=sampler is None, sampler=sampler,
                        num_workers=cfg.num_workers, pin_memory=device.type == "cuda",
                        drop_last=True, generator=loader_gen, persistent_workers=False)
    val_loader = DataLoader(val_set, min(250, cfg.batch_size * 2), sampler=val_sampler,
                            num_workers=cfg.num_workers, pin_memory=device.type == "cuda")
    per_epoch = steps_in_epoch(loader, cfg)
    if per_epoch < 1:
        raise ValueError(f"an epoch has no optimizer step: {len(loader)} batches of {cfg.batch_size} per "
                         f"process, accum_steps {cfg.accum_steps}; lower the batch size")
    total_steps = cfg.epochs * per_epoch
    step = start_epoch * per_epoch
    val_glances = (1,) if model_cfg.arch == "baseline" else tuple(sorted(
        {1, 2, 4, 8, 16} & set(range(1, cfg.glances_max + 1)) | {model_cfg.glances}))
    out_dir = Path(args.out)
    command = " ".join(shlex.quote(a) for a in ["python", "-m", "model.train", *sys.argv[1:]])
    if world > 1:
        command = f"torchrun --nproc_per_node={world} -m model.train " + " ".join(shlex.quote(a) for a in sys.argv[1:])

    def meta_now() -> dict[str, Any]:
        return {**metadata, "class_names": class_names, "task": cfg.task, "recipe": asdict(cfg),
                "command": command, "seed": cfg.seed, "hardware": hardware(), "world_size": world,
                "wall_time_s": round(time.time() - t0, 1), "history": history,
                "torch": torch.__version__}

    end_epoch = cfg.epochs if args.stop_after is None else min(cfg.epochs, start_epoch + args.stop_after)
    for epoch in range(start_epoch, end_epoch):
        if sampler is not None:
            sampler.set_epoch(epoch)
        loader_gen.manual_seed(cfg.seed * 1000 + epoch)  # resume reproduces the same order
        if hasattr(train_set, "set_seed"):
            train_set.set_seed(cfg.seed * 1000 + epoch)  # fresh canvases / crops each epoch
        stats, step = train_one_epoch(model, raw, loader, optimizer, cfg, epoch, step, total_steps,
                                      device, rank, world, not args.no_progress, forward)
        stats.update(evaluate(raw, val_loader, device, val_glances))
        stats.update(epoch=epoch + 1, wall_time_s=round(time.time() - t0, 1))
        history.append(stats)
        if rank == 0:
            print(json.dumps(stats), flush=True)
            out_dir.mkdir(parents=True, exist_ok=True)
            (out_dir / "metrics.json").write_text(json.dumps(history, indent=1) + "\n")
            tensors, info = optimizer_tensors(optimizer)
            meta = meta_now()
            meta["training_state"] = {"epoch": epoch + 1, "optimizer": info}
            save_checkpoint(raw, out_dir / "last.safetensors", meta, tensors)
    final = meta_now()
    final["metrics"] = {"train": history[-1] if history else {}}
    if rank == 0 and end_epoch == cfg.epochs:
        save_checkpoint(raw, out_dir / "model.safetensors", final)
    if world > 1:
        dist.barrier()
        dist.destroy_process_group()
    return final


def training_input_stats(dataset: Dataset, n: int = 256) -> dict[str, dict[str, float]]:
    """``input_stats`` of ``n`` training images spread evenly over the set (image folders are
    sorted by class), for the app's "far from the training data" warning on uploads."""
    picks = np.unique(np.linspace(0, len(dataset) - 1, min(n, len(dataset))).round().astype(int))
    images = [dataset[int(i)][0].permute(1, 2, 0).numpy() for i in picks]  # spread over classes
    return input_stats(np.stack(images))


def cli() -> None:
    main(get_args_parser().parse_args())


if __name__ == "__main__":
    cli()
