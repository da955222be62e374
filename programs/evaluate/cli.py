"""The evaluation command. Every mode measures the checkpoints' inference forms (BatchNorm
folded, channels last: ``model.inference_form``), whose outputs equal the models' within 1e-5 at
about 0.6 of the cost. Every mode runs under torchrun too; rank 0 writes the results::

    torchrun --standalone --nproc_per_node=8 -m programs.evaluate folder \\
        --checkpoint runs/r50/model.safetensors --root data/imagenet/val --glances 4 16 --steps 0 10 --eps 16

Robustness grid (S3TA and the baseline side by side; markdown, CSV, JSON and a plotly HTML
"computational race" figure in --out)::

    python -m programs.evaluate grid --n 500 --glances 1 2 4 8 16 --steps 0 10 20 50 100 --eps 8 16 \\
        --out runs/results

The floor metrics of one checkpoint (optionally written into its metadata)::

    python -m programs.evaluate floors --checkpoint assets/s3ta_default.safetensors --n 2000 --write-metadata

The black-box check (Square Attack beside PGD-100 on the same canvases: gradient masking?)::

    python -m programs.evaluate square --checkpoint assets/s3ta_default.safetensors --n 1000 --eps 16 \\
        --queries 5000 --json runs/square_default.json

Paired comparisons (two models or glance counts on the same canvases and attack seeds) and curves
over attack steps: ``compare`` and ``curve`` (programs/evaluate/compare.py). ``--canvases final``
reads the final test canvases, kept for reporting (model/data/splits.py).
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist

from model.checkpoint import DEFAULT_CHECKPOINT, load_checkpoint, store_metrics
from model.data import ImageFolder
from model.data.transforms import EvalTransform
from model.inference_form import inference_form
from programs.distributed import is_main, setup_distributed

from .checkpoints import add_canvas_arguments, canvas_task, chosen_canvases, model_names
from .compare import PAIRED_MODES, add_paired_parsers, run_paired
from .measure import folder_robustness, robustness_grid, square_robustness, target_transfer, task_metrics
from .report import grid_markdown, race_record, write_grid

__all__ = ["get_args_parser", "main", "cli"]

N_HELP = "(--num-examples under torchrun: its parser takes --n for its own options)"


def get_args_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description="Evaluate checkpoints clean and under attack.",
                                formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    sub = p.add_subparsers(dest="mode", required=True)
    f = sub.add_parser("floors", help="the floor metrics of one checkpoint")
    f.add_argument("--checkpoint", type=Path, default=None, help="default: the shipped default")
    f.add_argument("--n", "--num-examples", dest="n", type=int, default=2000, help=f"test canvases {N_HELP}")
    f.add_argument("--glances", type=int, default=None)
    f.add_argument("--attack-steps", type=int, default=20,
                   help="PGD steps of the floor's attack and of the targeted attacks whose pull is measured")
    f.add_argument("--write-metadata", action="store_true",
                   help="store the numbers in the checkpoint's metadata (metrics.test)")
    f.add_argument("--json", type=Path, help="also write the numbers to this file")
    g = sub.add_parser("grid", help="accuracy under attack over glances x steps x eps")
    g.add_argument("--checkpoints", type=Path, nargs="+", default=None,
                   help="default: the shipped default S3TA and the baseline")
    g.add_argument("--n", "--num-examples", dest="n", type=int, default=500, help=f"test canvases {N_HELP}")
    g.add_argument("--glances", type=int, nargs="+", default=[1, 2, 4, 8, 16])
    g.add_argument("--steps", type=int, nargs="+", default=[0, 10, 20, 50])
    g.add_argument("--eps", type=float, nargs="+", default=[8, 16], help="in /255 units")
    g.add_argument("--targets", nargs="+", default=["random", "untargeted"], choices=["random", "untargeted"])
    g.add_argument("--out", type=Path, default=Path("runs/results"))
    g.add_argument("--write-metadata", action="store_true",
                   help="store each checkpoint's rows in its metadata (metrics.race), for the app's race view")
    t = sub.add_parser("transfer", help="does the target class appear in the perturbation? (a judge model "
                                        "classifies targeted adversarial images crafted against each model)")
    t.add_argument("--checkpoints", type=Path, nargs="+", required=True, help="the models attacked")
    t.add_argument("--judge", type=Path, required=True, help="a model never used to craft the images")
    t.add_argument("--n", "--num-examples", dest="n", type=int, default=1000, help=f"test canvases {N_HELP}")
    t.add_argument("--eps", type=float, default=32, help="in /255 units")
    t.add_argument("--steps", type=int, default=20)
    t.add_argument("--step-size", type=float, default=None,
                   help="in /255 units (default: the protocol's max(1/255, eps/steps))")
    t.add_argument("--json", type=Path, help="also write the rows to this file")
    d = sub.add_parser("folder", help="accuracy under attack on an image folder (e.g. ImageNet val)")
    d.add_argument("--checkpoint", type=Path, required=True)
    d.add_argument("--root", type=Path, required=True, help="root/<class>/<image>, classes named as in the checkpoint")
    d.add_argument("--n", "--num-examples", dest="n", type=int, default=None,
                   help=f"first n images (default: all) {N_HELP}")
    d.add_argument("--glances", type=int, nargs="+", default=[4, 16])
    d.add_argument("--steps", type=int, nargs="+", default=[0, 10])
    d.add_argument("--eps", type=float, nargs="+", default=[16], help="in /255 units")
    d.add_argument("--target", default="random", choices=["random", "untargeted"])
    d.add_argument("--crop-fraction", type=float, default=0.875)
    d.add_argument("--json", type=Path, help="also write the rows to this file")
    add_square_parser(sub)
    for q in (f, g, t, d):
        q.add_argument("--batch-size", type=int, default=100)
        q.add_argument("--seed", type=int, default=0)
        q.add_argument("--threads", type=int, default=None)
        q.add_argument("--device", default=None, help="cpu, cuda, cuda:1 (default: cuda if available; "
                                                      "under torchrun cuda:LOCAL_RANK)")
    for q in (f, g, t):
        add_canvas_arguments(q)
    add_paired_parsers(sub)
    return p


def add_square_parser(sub: Any) -> None:
    """The ``square`` mode: robust accuracy under Square Attack beside PGD on the same canvases."""
    q = sub.add_parser("square", help="accuracy under Square Attack (black box, scores only) beside PGD-k "
                                      "on the same canvases: does PGD miss what a black-box attack finds?")
    q.add_argument("--checkpoint", type=Path, default=None, help="default: the shipped default")
    q.add_argument("--n", "--num-examples", dest="n", type=int, default=1000, help=f"test canvases {N_HELP}")
    q.add_argument("--eps", type=float, default=16, help="L-inf, in /255 units")
    q.add_argument("--queries", type=int, default=5000, help="Square Attack's budget per canvas")
    q.add_argument("--p-init", type=float, default=None, help="the first squares' fraction of the image "
                                                              "(default 0.8, as AutoAttack runs it)")
    q.add_argument("--glances", type=int, default=None, help="default: the model's own")
    q.add_argument("--pgd-steps", type=int, default=100, help="PGD beside it (the protocol's step size)")
    q.add_argument("--target", default="untargeted", choices=["untargeted", "random"])
    q.add_argument("--json", type=Path, help="also write the numbers to this file")
    q.add_argument("--batch-size", type=int, default=100)
    q.add_argument("--seed", type=int, default=0)
    q.add_argument("--threads", type=int, default=None)
    q.add_argument("--device", default=None, help="cpu, cuda, cuda:1 (default: cuda if available)")


def run_square(args: argparse.Namespace, device: torch.device, command: str, main_rank: bool) -> dict[str, Any]:
    if not 0 < args.eps <= 255:
        raise SystemExit(f"--eps must be above 0 and at most 255 (/255 units), got {args.eps:g}")
    path = args.checkpoint or DEFAULT_CHECKPOINT
    model, meta, _ = load_checkpoint(path, device)
    task = canvas_task([meta], [path])
    try:
        row = square_robustness(inference_form(model), args.n, args.eps, args.queries, args.glances,
                                args.pgd_steps, args.target, args.p_init, args.batch_size, args.seed,
                                progress=main_rank, task=task)
    except ValueError as exc:
        raise SystemExit(f"square: {exc}") from exc
    result = {"checkpoint": str(path), "task": task, **row, "command": command}
    if main_rank:
        _write_json(args.json, result)
    return result


def main(args: argparse.Namespace) -> Any:
    """Run one mode; under torchrun every rank computes its shard and rank 0 writes the results."""
    try:
        return _run(args)
    finally:
        if dist.is_initialized():
            dist.barrier()
            dist.destroy_process_group()


def _write_json(path: Path | None, data: Any) -> None:
    print(json.dumps(data, indent=1))
    if path:
        path.write_text(json.dumps(data, indent=1) + "\n")


def _run(args: argparse.Namespace) -> Any:
    if args.threads:
        torch.set_num_threads(args.threads)
    _, world, device = setup_distributed(args.device)
    prefix = ["python", "-m"] if world == 1 else ["torchrun", f"--nproc_per_node={world}", "-m"]
    command = " ".join(shlex.quote(a) for a in [*prefix, "programs.evaluate", *sys.argv[1:]])
    main_rank = is_main()
    if args.mode == "square":
        return run_square(args, device, command, main_rank)
    if args.mode == "grid":
        paths = args.checkpoints or [DEFAULT_CHECKPOINT, DEFAULT_CHECKPOINT.parent / "baseline_default.safetensors"]
        names = model_names(paths)
        loaded = [load_checkpoint(p, device) for p in paths]
        task = canvas_task([meta for _, meta, _ in loaded], paths)
        models = {names[p]: inference_form(model) for p, (model, _, _) in zip(paths, loaded)}
        canvases = chosen_canvases(args, args.n)
        if args.write_metadata and canvases.name == "final":
            raise SystemExit("--write-metadata stores development-canvas numbers; keep final ones in --out")
        rows = robustness_grid(models, args.n, args.glances, args.steps, args.eps, args.targets,
                               args.batch_size, canvases.seed, progress=main_rank, task=task, start=canvases.start)
        if main_rank:
            write_grid(rows, args.out, command)
            print(grid_markdown(rows))
            if args.write_metadata:
                for path in paths:
                    store_metrics(path, "race", race_record([r for r in rows if r["model"] == names[path]], command))
        return rows
    if args.mode == "transfer":
        names = model_names(args.checkpoints)
        paths = [*args.checkpoints, args.judge]
        loaded = [load_checkpoint(p, device) for p in paths]
        task = canvas_task([meta for _, meta, _ in loaded], paths)
        models = {names[p]: inference_form(model) for p, (model, _, _) in zip(args.checkpoints, loaded)}
        judge = inference_form(loaded[-1][0])
        if args.step_size is not None and not args.step_size > 0:
            raise SystemExit(f"--step-size must be > 0 (/255), got {args.step_size}")
        canvases = chosen_canvases(args, args.n)
        rows = target_transfer(models, judge, args.n, args.eps, args.steps, args.batch_size, canvases.seed,
                               progress=main_rank, task=task, step_size_255=args.step_size, start=canvases.start)
        if main_rank:
            _write_json(args.json, {"command": command, "judge": str(args.judge), "canvases": canvases.name,
                                    "rows": rows})
        return rows
    if args.mode in PAIRED_MODES:
        return run_paired(args, command, device, main_rank)
    if args.mode == "folder":
        model, meta, _ = load_checkpoint(args.checkpoint, device)
        dataset = ImageFolder(args.root, model.config.image_size,
                              EvalTransform(model.config.image_size, args.crop_fraction),
                              classes=list(meta.get("class_folders") or meta["class_names"]))
        rows = folder_robustness(inference_form(model), dataset, args.glances, args.eps, args.steps, args.target,
                                 args.batch_size, args.seed, args.n, progress=main_rank)
        if main_rank:
            _write_json(args.json, {"command": command, "world_size": world, "rows": rows})
        return rows
    path = args.checkpoint or DEFAULT_CHECKPOINT
    model, meta, _ = load_checkpoint(path, device)
    task = canvas_task([meta], [path])
    canvases = chosen_canvases(args, args.n)
    if args.write_metadata and canvases.name == "final":
        raise SystemExit("--write-metadata stores development-canvas numbers; keep final ones in --json")
    t0 = time.time()
    result = task_metrics(inference_form(model), args.n, args.glances, args.batch_size, canvases.seed,
                          attack_steps=args.attack_steps, progress=main_rank, task=task, start=canvases.start)
    result["task"] = task
    result["canvases"] = canvases.name
    result["wall_time_s"] = round(time.time() - t0, 1)
    result["command"] = command
    if main_rank:
        _write_json(args.json, result)
        if args.write_metadata:
            store_metrics(path, "test", result)
    return result


def cli() -> None:
    main(get_args_parser().parse_args())
