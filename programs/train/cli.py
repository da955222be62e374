"""The training command: arguments, set-up (devices, ranks, data, model), the epoch loop, and
checkpoints. Rank 0 logs (progress bar, ``metrics.json``) and saves ``last.safetensors`` every
epoch (model, optimizer and schedule, for ``--resume``) and ``model.safetensors`` at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from torch import nn
from torch.utils.data import DataLoader, DistributedSampler

from model.backbone import load_backbone_weights
from model.checkpoint import (
    file_sha256,
    load_checkpoint,
    optimizer_tensors,
    restore_optimizer,
    save_checkpoint,
)
from model.data import ImageFolder
from model.factory import build_model
from model.inference_form import inference_form
from programs.distributed import setup_distributed
from programs.seeds import epoch_seed

from .config import load_configs
from .data import build_datasets, training_input_stats
from .loop import (
    Handles,
    Position,
    evaluate,
    make_optimizer,
    steps_in_epoch,
    train_one_epoch,
)

__all__ = ["get_args_parser", "main", "cli", "hardware"]

VALIDATION_GLANCES = (1, 2, 4, 8, 16)


def get_args_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description="Train S3TA or the baseline, clean or adversarially, "
                                            "on one process or many (DDP).")
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


def hardware() -> str:
    if torch.cuda.is_available():
        return f"{torch.cuda.device_count()}x {torch.cuda.get_device_name(0)}"
    return f"CPU {platform.processor() or platform.machine()}, {os.cpu_count()} cores, " \
           f"{torch.get_num_threads()} torch threads"


def _command(world: int) -> str:
    args = " ".join(shlex.quote(a) for a in sys.argv[1:])
    if world > 1:
        return f"torchrun --nproc_per_node={world} -m programs.train {args}"
    return f"python -m programs.train {args}"


def main(args: argparse.Namespace) -> dict[str, Any]:
    """Train as ``args`` say; returns the final checkpoint's metadata."""
    if args.threads:
        torch.set_num_threads(args.threads)
    model_cfg, cfg = load_configs(args.config, args.overrides)
    rank, world, device = setup_distributed(args.device)
    torch.manual_seed(cfg.seed)
    t0 = time.time()
    metadata: dict[str, Any] = {}
    history: list[dict[str, Any]] = []
    start_epoch = 0
    raw = build_model(model_cfg).to(device)
    optimizer = make_optimizer(raw, cfg)
    if args.resume:
        loaded, meta, extra = load_checkpoint(args.resume, device)
        raw.load_state_dict(loaded.state_dict())
        restore_optimizer(optimizer, extra, meta["training_state"]["optimizer"])
        start_epoch = meta["training_state"]["epoch"]
        history = meta.get("history", [])
        t0 -= meta.get("wall_time_s", 0.0)
    elif cfg.init_from:
        loaded, meta, _ = load_checkpoint(cfg.init_from, device)
        raw.load_state_dict(loaded.state_dict())
        metadata["init_from"] = {"path": cfg.init_from, "recipe": meta.get("recipe"),
                                 "command": meta.get("command"), "wall_time_s": meta.get("wall_time_s")}
    elif cfg.backbone_weights:
        load_backbone_weights(raw.backbone, cfg.backbone_weights, device)
        metadata["backbone_weights"] = {"path": cfg.backbone_weights, "sha256": file_sha256(cfg.backbone_weights)}
    if cfg.channels_last:
        raw = raw.to(memory_format=torch.channels_last)
    wrapped: nn.Module = raw
    if world > 1:
        wrapped = nn.parallel.DistributedDataParallel(raw, device_ids=[device.index] if device.type == "cuda" else None)
    attack_form = inference_form(raw, compile=cfg.compile) if cfg.adv.attack() is not None else None
    models = Handles(raw, wrapped, torch.compile(wrapped) if cfg.compile else wrapped, attack_form)

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
    val_glances = tuple(sorted({g for g in VALIDATION_GLANCES if g <= min(cfg.glances_max, raw.max_glances)}
                               | {raw.default_glances}))
    out_dir = Path(args.out)
    command = _command(world)

    def meta_now() -> dict[str, Any]:
        return {**metadata, "class_names": class_names, "task": cfg.task, "recipe": asdict(cfg),
                "command": command, "seed": cfg.seed, "hardware": hardware(), "world_size": world,
                "wall_time_s": round(time.time() - t0, 1), "history": history,
                "torch": torch.__version__}

    end_epoch = cfg.epochs if args.stop_after is None else min(cfg.epochs, start_epoch + args.stop_after)
    for epoch in range(start_epoch, end_epoch):
        if sampler is not None:
            sampler.set_epoch(epoch)
        loader_gen.manual_seed(epoch_seed(cfg.seed, epoch))  # resume reproduces the same order
        if hasattr(train_set, "set_seed"):
            train_set.set_seed(epoch_seed(cfg.seed, epoch))  # fresh canvases / crops each epoch
        at = Position(device, rank, world, epoch, step, total_steps)
        stats, step = train_one_epoch(models, loader, optimizer, cfg, at, not args.no_progress)
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


def cli() -> None:
    main(get_args_parser().parse_args())
