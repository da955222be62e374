"""Adversarial training throughput, attacks crafted on the eager model (before) against the
inference form refolded once per optimizer step (after, what ``programs.train`` does).

    python -m bench.train_throughput --batch 64 --steps 6 --repeats 3 --md bench/train_throughput.md

The shipped default's architecture (small ResNet, 4 heads), a fixed batch of training canvases,
4 glances; one optimizer step = craft the batch (FGSM with random start, or PGD-5; random
targets) + forward/backward at 4 glances + AdamW step. Images per second, the two variants
interleaved ``--repeats`` times; the median is reported.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn

from bench.report import emit
from model import load_model, pgd
from model.attacks import AttackConfig
from model.data import make_batch
from model.factory import build_model
from model.inference_form import inference_form, refold
from programs.train.config import AdvConfig
from programs.train.loop import adversarial_batch, glance_loss

ROOT = Path(__file__).resolve().parent.parent


def eager_batch(model: nn.Module, x: torch.Tensor, y: torch.Tensor, attack: AttackConfig, glances: int,
                seed: int) -> torch.Tensor:
    """How training crafted its batches before the inference form: BatchNorm switched to
    inference mode on the training model for the attack, and back."""
    model.eval()
    try:
        return pgd(model, x, y, attack, glances=glances, seed=seed).images
    finally:
        model.train()


def trainer(use_form: bool, attack: AttackConfig, x: torch.Tensor, y: torch.Tensor,
            glances: int) -> Callable[[int], None]:
    torch.manual_seed(0)
    model = build_model(load_model().config).train()
    opt = torch.optim.AdamW(model.parameters(), 1e-3)
    form = inference_form(model) if use_form else None

    def step(i: int) -> None:
        if form is not None:
            refold(form, model)
            adv = adversarial_batch(form, x, y, attack, glances, seed=i)
        else:
            adv = eager_batch(model, x, y, attack, glances, seed=i)
        opt.zero_grad(set_to_none=True)
        glance_loss(model(adv, glances=glances).step_logits, y).backward()
        opt.step()
    return step


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--steps", type=int, default=6, help="optimizer steps per timing")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--glances", type=int, default=4)
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--md", default=None)
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    x, y, _ = make_batch("train", range(args.batch), seed=0)
    recipes = {"FGSM-RS (8/255)": AdvConfig(method="fgsm").attack(),
               "PGD-5 (8/255)": AdvConfig(method="pgd", steps=5).attack()}
    lines = [f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
             f"{torch.get_num_threads()} torch threads, torch {torch.__version__}; shipped default "
             f"architecture, batch {args.batch}, {args.glances} glances, {args.steps} optimizer steps per "
             f"timing, {args.repeats} interleaved repeats (median).", "",
             "| recipe | eager model, img/s (before) | inference form, img/s (after) | after / before |",
             "|---|---:|---:|---:|"]
    for name, attack in recipes.items():
        steps = {False: trainer(False, attack, x, y, args.glances), True: trainer(True, attack, x, y, args.glances)}
        rates: dict[bool, list[float]] = {False: [], True: []}
        for fn in steps.values():
            fn(0)  # warm-up
        for r in range(args.repeats):
            for use_form, fn in steps.items():
                t = time.perf_counter()
                for i in range(args.steps):
                    fn(1 + r * args.steps + i)
                rates[use_form].append(args.batch * args.steps / (time.perf_counter() - t))
        before, after = statistics.median(rates[False]), statistics.median(rates[True])
        lines.append(f"| {name} | {before:.1f} | {after:.1f} | {after / before:.2f} |")
    emit(lines, args.md)


if __name__ == "__main__":
    main()
