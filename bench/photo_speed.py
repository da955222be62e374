"""Attack step cost of the natural-photo head (224 px, EfficientNet-Lite0 trunk) against the task
model (96 px canvases), each at its own input size, one image, as the app runs them (inference
forms, CPU). Interleaved repeats; the median of each is reported with its ratio.

    python bench/photo_speed.py --checkpoint assets/photo_attention.safetensors --md bench/photo_speed.md

More than one ``--checkpoint`` times each photo head in the same interleaved run (side by side).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from bench.report import emit  # noqa: E402
from model import AttackConfig, pgd  # noqa: E402
from model.checkpoint import DEFAULT_CHECKPOINT  # noqa: E402
from viz.catalog import open_checkpoint  # noqa: E402


def step_seconds(model: torch.nn.Module, steps: int) -> float:
    """Seconds per PGD step on one random image at the model's size (random target, no early stop)."""
    size = model.config.image_size
    x = torch.rand(1, 3, size, size, generator=torch.Generator().manual_seed(0))
    y = torch.zeros(1, dtype=torch.long)
    cfg = AttackConfig(eps=16 / 255, steps=steps, target="random", early_stop=False)
    t = time.perf_counter()
    pgd(model, x, y, cfg, glances=model.default_glances, seed=0)
    return (time.perf_counter() - t) / steps


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--checkpoint", type=Path, nargs="+", default=[ROOT / "assets" / "photo_attention.safetensors"])
    p.add_argument("--task", type=Path, default=DEFAULT_CHECKPOINT)
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--md", default=None)
    args = p.parse_args()
    models = {"task model": open_checkpoint(args.task)}
    for path in args.checkpoint:
        name = "photo head" if len(args.checkpoint) == 1 else f"photo head `{path}`"
        models[name] = open_checkpoint(path)
    for m in models.values():
        step_seconds(m, 2)  # warm-up
    times: dict[str, list[float]] = {k: [] for k in models}
    for _ in range(args.repeats):
        for name, m in models.items():
            times[name].append(step_seconds(m, args.steps))
    med = {k: statistics.median(v) for k, v in times.items()}
    lines = [f"Machine: {platform.machine()}, {os.cpu_count()} cores, {torch.get_num_threads()} torch threads, "
             f"torch {torch.__version__}; PGD-{args.steps} on one image, {args.repeats} interleaved repeats.", "",
             "| model | input | glances | ms per attack step (median) | / task model |", "|---|---|---:|---:|---:|"]
    for name, m in models.items():
        size = f"{m.config.image_size} px" + ("" if name == "task model" else f", stride {m.config.output_stride}")
        lines.append(f"| {name} | {size} | {m.default_glances} | {med[name] * 1e3:.1f} "
                     f"| {med[name] / med['task model']:.2f} |")
    emit(lines, args.md)


if __name__ == "__main__":
    main()
