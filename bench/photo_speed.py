"""Attack step cost of the natural-photo head (224 px, EfficientNet-Lite0 trunk) against the task
model (96 px canvases), each at its own input size, one image, as the app runs them (inference
forms, CPU). Interleaved repeats; the median of each is reported with its ratio.

    python -m bench.photo_speed --checkpoint assets/photo_attention.safetensors --md bench/photo_speed.md

More than one ``--checkpoint`` times each photo head in the same interleaved run (side by side).
Each photo head also gets a row for its frozen trunk alone (forward and the gradient to the
input, what any attack on it must pay); ``--bf16`` adds rows under CPU bf16 autocast and
``--compile`` rows for the trunk under ``torch.compile``, the two levers one would try next, and
``--trunk-sizes`` rows for the trunk at smaller inputs.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import torch

from bench.report import emit
from compute.catalog import open_checkpoint
from model import AttackConfig, pgd
from model.checkpoint import DEFAULT_CHECKPOINT

ROOT = Path(__file__).resolve().parent.parent


def step_seconds(model: torch.nn.Module, steps: int, bf16: bool = False) -> float:
    """Seconds per PGD step on one random image at the model's size (random target, no early stop)."""
    size = model.config.image_size
    x = torch.rand(1, 3, size, size, generator=torch.Generator().manual_seed(0))
    y = torch.zeros(1, dtype=torch.long)
    cfg = AttackConfig(eps=16 / 255, steps=steps, target="random", early_stop=False)
    t = time.perf_counter()
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        pgd(model, x, y, cfg, glances=model.default_glances, seed=0)
    return (time.perf_counter() - t) / steps


def trunk_seconds(model: torch.nn.Module, steps: int, bf16: bool = False, compiled: Any = None,
                  size: int | None = None) -> float:
    """Seconds per forward of the photo head's trunk with the gradient to the input: the floor of
    its attack step (the head's glances and the attack's bookkeeping come on top). ``size``: another
    input side than the head's own."""
    size = size or model.config.image_size
    x = torch.rand(1, 3, size, size, generator=torch.Generator().manual_seed(0))
    x = x.contiguous(memory_format=torch.channels_last).requires_grad_(True)
    features = compiled or model.trunk.features
    t = time.perf_counter()
    for _ in range(steps):
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            out = features(x)
        out.float().sum().backward()
    return (time.perf_counter() - t) / steps


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--checkpoint", type=Path, nargs="+", default=[ROOT / "assets" / "photo_attention.safetensors"])
    p.add_argument("--task", type=Path, default=DEFAULT_CHECKPOINT)
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--bf16", action="store_true", help="also time the photo heads under CPU bf16 autocast")
    p.add_argument("--compile", action="store_true", help="also time each photo trunk under torch.compile")
    p.add_argument("--trunk-sizes", type=int, nargs="*", default=[],
                   help="also time each photo trunk alone at these input sides (px)")
    p.add_argument("--md", default=None)
    args = p.parse_args()
    task = open_checkpoint(args.task)
    # name -> (what runs once and returns seconds per step, input side, glances or "-" for a trunk alone)
    rows: dict[str, tuple[Callable[[], float], str, Any]] = {
        "task model": (partial(step_seconds, task, args.steps), f"{task.config.image_size} px", task.default_glances)}
    for path in args.checkpoint:
        name = "photo head" if len(args.checkpoint) == 1 else f"photo head `{path}`"
        m = open_checkpoint(path)
        own = f"{m.config.image_size} px, stride {m.config.output_stride}"
        rows[name] = (partial(step_seconds, m, args.steps), own, m.default_glances)
        rows[f"{name}: trunk alone (forward + input gradient)"] = (partial(trunk_seconds, m, args.steps), own, "-")
        if args.bf16:
            rows[f"{name}, bf16 autocast"] = (partial(step_seconds, m, args.steps, bf16=True), own, m.default_glances)
            rows[f"{name}: trunk alone, bf16 autocast"] = (partial(trunk_seconds, m, args.steps, bf16=True), own, "-")
        for side in args.trunk_sizes:
            rows[f"{name}: trunk alone at {side} px"] = (partial(trunk_seconds, m, args.steps, size=side),
                                                         f"{side} px, stride {m.config.output_stride}", "-")
        if args.compile:
            compiled = torch.compile(m.trunk.features)
            rows[f"{name}: trunk alone, torch.compile"] = (partial(trunk_seconds, m, args.steps, compiled=compiled),
                                                           own, "-")
    for run, _, _ in rows.values():
        run()  # warm-up (and compilation)
    times: dict[str, list[float]] = {k: [] for k in rows}
    for _ in range(args.repeats):
        for name, (run, _, _) in rows.items():
            times[name].append(run())
    med = {k: statistics.median(v) for k, v in times.items()}
    lines = [f"Machine: {platform.machine()}, {os.cpu_count()} cores, {torch.get_num_threads()} torch threads, "
             f"torch {torch.__version__}; PGD-{args.steps} on one image, {args.repeats} interleaved repeats.", "",
             "| model | input | glances | ms per attack step (median) | / task model |", "|---|---|---:|---:|---:|"]
    for name, (_, size, glances) in rows.items():
        lines.append(f"| {name} | {size} | {glances} | {med[name] * 1e3:.1f} "
                     f"| {med[name] / med['task model']:.2f} |")
    emit(lines, args.md)


if __name__ == "__main__":
    main()
