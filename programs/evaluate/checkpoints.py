"""What every evaluation mode asks of the checkpoints it is given: a row label per checkpoint,
the canvas task they share, and which test canvases a command reads."""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path
from typing import Any

from model.data import CANVAS_TASKS, DEFAULT_TASK
from model.data.splits import CANVAS_SETS, FINAL, CanvasSet, canvas_set

__all__ = ["model_names", "canvas_task", "add_canvas_arguments", "chosen_canvases"]


def model_names(paths: list[Path]) -> dict[Path, str]:
    """A row label per checkpoint: its file stem, or folder/stem where two stems are the same
    (runs/a/model.safetensors and runs/b/model.safetensors)."""
    stems = [p.stem for p in paths]
    return {p: p.stem if stems.count(p.stem) == 1 else f"{p.parent.name}/{p.stem}" for p in paths}


def canvas_task(metas: list[dict[str, Any]], paths: list[Path]) -> str:
    """The canvas task every checkpoint was trained on (from its metadata; checkpoints from
    before tasks were recorded: the cluttered task). Mixed tasks are refused: a grid or a
    transfer table compares models on the same canvases."""
    tasks = {str(p): m.get("task", DEFAULT_TASK) for p, m in zip(paths, metas)}
    if len(set(tasks.values())) > 1:
        raise SystemExit("these checkpoints were trained on different tasks; evaluate them separately: "
                         + ", ".join(f"{p} ({t})" for p, t in tasks.items()))
    task = next(iter(tasks.values()))
    if task not in CANVAS_TASKS:
        raise SystemExit(f"{next(iter(tasks))} was trained on {task!r}, not a canvas task; "
                         "use the folder mode with its images")
    return task


def add_canvas_arguments(parser: argparse.ArgumentParser) -> None:
    """``--canvases`` (development or final) for a mode that reads test canvases."""
    parser.add_argument("--canvases", default="development", choices=sorted(CANVAS_SETS),
                        help="development: test canvases 0.. at --seed (every decision so far); final: "
                             f"canvases {FINAL.start}..{FINAL.stop - 1} at seed {FINAL.seed}, kept for "
                             "reporting once (model/data/splits.py)")


def chosen_canvases(args: argparse.Namespace, n: int) -> CanvasSet:
    """The canvas set a command asked for, with ``--seed`` applied to the development canvases;
    a clear exit where ``n`` does not fit or a seed is asked of the final canvases."""
    chosen = canvas_set(args.canvases)
    if chosen is FINAL and args.seed != 0:
        raise SystemExit(f"the final canvases have their own seed ({FINAL.seed}); --seed applies to the "
                         "development canvases")
    if chosen is not FINAL:
        chosen = dataclasses.replace(chosen, seed=args.seed)
    if not 1 <= n <= chosen.size:
        raise SystemExit(f"--n must be in [1, {chosen.size}] for the {chosen.name} canvases, got {n}")
    return chosen
