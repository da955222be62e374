"""One epoch of (adversarial) training and the validation after it.

Adversarial training follows Zoran et al. (2019): each batch is replaced by PGD examples aimed at
a random wrong class per example, crafted with BatchNorm in inference mode; ``adv.method="fgsm"``
is the one-step variant with random start (Wong et al. 2020). Every batch is unrolled for a
glance count drawn from [glances_min, glances_max] and the loss averages the cross-entropy of
every glance's logits, so one set of weights answers sensibly at any count in that range.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader

from model.attacks import AttackConfig, pgd
from model.data.cued import CUE_STYLES, CUED_TASKS
from model.inference_form import refold
from programs.distributed import all_reduce_sum
from programs.seeds import glance_count_seed, train_attack_seed, train_noise_seed

from .config import TrainConfig
from .guide import guide_loss, guide_weight_at

__all__ = ["Handles", "Position", "make_optimizer", "lr_at", "glance_loss", "adversarial_batch", "noisy_batch",
           "steps_in_epoch", "train_one_epoch", "evaluate"]


@dataclass(frozen=True)
class Handles:
    """One model in its roles: ``raw`` holds the weights (saved, validated); ``wrapped`` is what
    backward all-reduces through (DDP, or ``raw`` itself on one process); ``forward`` runs the
    training forward (the compiled ``wrapped`` with ``train.compile``); ``attack_form`` is the
    inference form the adversarial examples are crafted on (None for clean training), refolded
    from ``raw`` once per optimizer step."""

    raw: nn.Module
    wrapped: nn.Module
    forward: Any
    attack_form: nn.Module | None = None


@dataclass(frozen=True)
class Position:
    """Where a run is: this process's rank in a world of ``world``, on ``device``; the epoch,
    its first optimizer step, and the run's total steps (for the schedule)."""

    device: torch.device
    rank: int
    world: int
    epoch: int
    step: int
    total_steps: int


def make_optimizer(model: nn.Module, cfg: TrainConfig) -> torch.optim.Optimizer:
    """AdamW or Nesterov SGD, with no weight decay on biases and norm parameters."""
    decay = [p for p in model.parameters() if p.ndim > 1]
    no_decay = [p for p in model.parameters() if p.ndim <= 1]
    groups = [{"params": decay, "weight_decay": cfg.weight_decay},
              {"params": no_decay, "weight_decay": 0.0}]
    if cfg.optimizer == "adamw":
        return torch.optim.AdamW(groups, lr=cfg.lr)
    return torch.optim.SGD(groups, lr=cfg.lr, momentum=cfg.momentum, nesterov=True)


def lr_at(step: int, total: int, cfg: TrainConfig) -> float:
    """Linear warm-up then cosine decay to zero."""
    if step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / cfg.warmup_steps
    progress = (step - cfg.warmup_steps) / max(1, total - cfg.warmup_steps)
    return cfg.lr * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))


def glance_loss(step_logits: torch.Tensor, labels: torch.Tensor, which: str = "all") -> torch.Tensor:
    """Cross-entropy of the glances' logits (B, N, C): the mean over every glance ("all", so one
    set of weights answers at any count), or of the last glance alone ("last", a model trained
    for its glance count, whose earlier glances are free to gather rather than answer)."""
    if which == "last":
        return F.cross_entropy(step_logits[:, -1], labels)
    n = step_logits.shape[1]
    return F.cross_entropy(step_logits.flatten(0, 1), labels.repeat_interleave(n))


def autocast(device: torch.device, cfg: TrainConfig) -> Any:
    """bfloat16 autocast of forward passes when ``train.amp == "bf16"`` (no loss scaling needed)."""
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=cfg.amp == "bf16")


def adversarial_batch(form: nn.Module, x: torch.Tensor, y: torch.Tensor, attack: AttackConfig,
                      glances: int, seed: int, cfg: TrainConfig | None = None) -> torch.Tensor:
    """PGD/FGSM examples crafted on ``form``, the inference form of the model being trained
    (BatchNorm folded with its current running statistics: inference mode, as the paper's
    recipe wants, without switching the training model's mode)."""
    with autocast(x.device, cfg or TrainConfig()):
        return pgd(form, x, y, attack, glances=glances, seed=seed).images


def noisy_batch(x: torch.Tensor, eps: float, seed: int) -> torch.Tensor:
    """``x`` plus random-sign noise, each image its own amplitude drawn from U(0, eps), clamped to
    [0, 1]: the per-pixel statistics of an L-inf perturbation that fills its budget, with no
    direction towards any class."""
    gen = torch.Generator(device=x.device).manual_seed(seed)
    amplitude = torch.rand(x.shape[0], 1, 1, 1, generator=gen, device=x.device) * eps
    signs = torch.randint(0, 2, x.shape, generator=gen, device=x.device).to(x.dtype) * 2 - 1
    return (x + amplitude * signs).clamp(0, 1)


def _micro_batches(loader: DataLoader, accum: int, limit: int | None) -> Iterator[list]:
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
    """Optimizer steps in one epoch of ``loader``."""
    n = len(loader) // cfg.accum_steps
    return n if cfg.steps_per_epoch is None else min(n, cfg.steps_per_epoch)


def train_one_epoch(models: Handles, loader: DataLoader, optimizer: torch.optim.Optimizer,
                    cfg: TrainConfig, at: Position, progress: bool = False) -> tuple[dict[str, float], int]:
    """One epoch of optimizer steps, each over ``accum_steps`` micro-batches (gradients are
    all-reduced once per step: ``no_sync`` on the others). Returns the epoch's loss, accuracy
    and number of examples trained on (summed over ranks), and the next step."""
    models.wrapped.train()
    attack = cfg.adv.attack()
    sums = [0.0, 0.0, 0.0, 0.0]  # loss*n, correct, n, guide loss*n
    cue = CUE_STYLES[CUED_TASKS[cfg.task]].cue if cfg.guide_weight > 0 else None
    step = at.step
    groups: Any = _micro_batches(loader, cfg.accum_steps, cfg.steps_per_epoch)
    bar = None
    if progress and at.rank == 0:
        from tqdm import tqdm
        bar = groups = tqdm(groups, total=steps_in_epoch(loader, cfg), desc=f"epoch {at.epoch + 1}/{cfg.epochs}",
                            dynamic_ncols=True, leave=False)
    fmt = torch.channels_last if cfg.channels_last else torch.contiguous_format
    for group in groups:
        g = torch.Generator().manual_seed(glance_count_seed(cfg.seed, step))
        glances = int(torch.randint(cfg.glances_min, cfg.glances_max + 1, (1,), generator=g))
        for pg in optimizer.param_groups:
            pg["lr"] = lr_at(step, at.total_steps, cfg)
        optimizer.zero_grad(set_to_none=True)
        guide = guide_weight_at(step, at.total_steps, cfg.guide_weight, cfg.guide_fraction)
        if attack is not None:
            refold(models.attack_form, models.raw)  # the weights of this step, BatchNorm folded
        for micro, batch in enumerate(group):
            x = batch[0].to(at.device, non_blocking=True).contiguous(memory_format=fmt)
            y = batch[1].to(at.device, non_blocking=True)
            if attack is not None:
                x = adversarial_batch(models.attack_form, x, y, attack, glances,
                                      seed=train_attack_seed(cfg.seed, step, at.rank, micro), cfg=cfg)
            if cfg.noise_eps > 0:
                x = noisy_batch(x, cfg.noise_eps, seed=train_noise_seed(cfg.seed, step, at.rank, micro))
            last = micro == len(group) - 1
            sync = models.wrapped.no_sync() if (at.world > 1 and not last) else contextlib.nullcontext()
            with sync:
                with autocast(at.device, cfg):
                    out = models.forward(x, glances=glances)
                loss = glance_loss(out.step_logits.float(), y, cfg.loss)
                total = loss
                if guide > 0:
                    g_loss = guide_loss(out.attention.float(), cue, batch[2], tuple(x.shape[-2:]))
                    total = loss + guide * g_loss
                    sums[3] += g_loss.item() * y.shape[0]
                (total / len(group)).backward()
            n = y.shape[0]
            sums[0] += loss.item() * n
            sums[1] += float((out.logits.argmax(1) == y).sum())
            sums[2] += n
        if cfg.grad_clip > 0:
            nn.utils.clip_grad_norm_(models.wrapped.parameters(), cfg.grad_clip)
        optimizer.step()
        step += 1
        if bar is not None:
            bar.set_postfix(loss=f"{sums[0] / sums[2]:.3f}", acc=f"{sums[1] / sums[2]:.3f}",
                            glances=glances, lr=f"{optimizer.param_groups[0]['lr']:.2e}")
    loss_sum, correct, count, guide_sum = all_reduce_sum(sums, at.device)
    key = "train_adv" if attack is not None else "train"
    stats = {f"{key}_loss": loss_sum / max(count, 1), f"{key}_acc": correct / max(count, 1),
             f"{key}_examples": int(count)}
    if guide_sum > 0:  # the guide's loss over the whole epoch (its weighted steps only contribute)
        stats["guide_loss"] = guide_sum / max(count, 1)
    return stats, step


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
