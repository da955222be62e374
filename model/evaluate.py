"""Evaluate checkpoints: on the Cluttered Fashion-MNIST test split (accuracy, robustness, and
where the attention goes, clean and under attack), or on any image folder such as ImageNet val.
Every mode runs under torchrun too: each rank takes every world-th batch (batch seeds follow the
global batch index, so the answer equals a single process's) and rank 0 writes the results::

    torchrun --standalone --nproc_per_node=8 -m model.evaluate folder \
        --checkpoint runs/r50/model.safetensors --root data/imagenet/val --glances 4 16 --steps 0 10 --eps 16

Robustness grid (S3TA and the baseline side by side; markdown, CSV, JSON and a plotly HTML
"computational race" figure in --out)::

    python -m model.evaluate grid --n 500 --glances 1 2 4 8 16 --steps 0 10 20 50 100 --eps 8 16 \
        --out docs/results

The floor metrics of one checkpoint (optionally written into its metadata)::

    python -m model.evaluate floors --checkpoint assets/s3ta_default.safetensors --n 2000 --write-metadata

``floors`` reports, at the model's default glance count unless told otherwise: clean accuracy (and per
glance count 1..16 for S3TA); accuracy under PGD-20 towards a random wrong class at 8/255; the
mass of the glance- and head-averaged attention inside the item's box; and, under targeted
PGD-20 at 16/255 and 32/255, the mean drop of that mass on the examples where the attack
succeeds. ``--write-metadata`` stores the numbers (and the command) in the checkpoint's metadata.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch
from torch import nn

from viz.metrics import box_mass

from .attacks import AttackConfig, pgd
from .checkpoint import load_checkpoint, save_checkpoint
from .data import CANVAS, ImageFolder, make_batch
from .data.transforms import EvalTransform
from .distributed import all_reduce_sum, gather_array, is_main, setup_distributed, shard

__all__ = ["task_metrics", "attention_on_item", "robustness_grid", "folder_robustness", "grid_markdown", "write_grid",
           "main", "get_args_parser"]


def attention_on_item(attention: torch.Tensor, boxes: torch.Tensor, image_size: int = CANVAS
                      ) -> np.ndarray:
    """(B,) mass of the glance- and head-averaged attention (B, N, heads, h, w) in each box."""
    mean_map = attention.detach().float().mean(dim=(1, 2)).cpu().numpy()  # (B, h, w)
    return box_mass(mean_map, boxes.cpu().numpy(), (image_size, image_size))


def task_metrics(model: nn.Module, n: int = 2000, glances: int | None = None,
                 batch_size: int = 100, seed: int = 0, attack_steps: int = 20,
                 progress: bool = True) -> dict[str, Any]:
    """The issue's floor metrics on the first ``n`` test canvases (seed ``seed``)."""
    if not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be an integer >= 1 (test canvases), got {n!r}")
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be an integer >= 1, got {batch_size!r}")
    is_s3ta = model.config.arch == "s3ta"
    glances = glances or (model.config.glances if is_s3ta else 1)  # the baseline has no glances
    per_glance = list(range(1, 17)) if is_s3ta else [1]
    correct_by_glance = np.zeros(len(per_glance))
    drops: dict[str, list[np.ndarray]] = {"16": [], "32": []}
    success: dict[str, list[np.ndarray]] = {"16": [], "32": []}
    robust, clean, mass = [], [], []
    starts = range(0, n, batch_size)
    bar = None
    if progress:
        from tqdm import tqdm
        bar = tqdm(total=len(shard(list(starts))), desc="evaluate", dynamic_ncols=True)
    device = next(model.parameters()).device
    for b, start in shard(list(starts)):  # under torchrun each rank takes every world-th batch
        x, y, boxes = make_batch("test", range(start, min(n, start + batch_size)), seed=seed)
        x, y = x.to(device), y.to(device)
        with torch.no_grad():  # one unroll serves every count: glance t never sees later ones
            out = model(x, glances=max(glances, max(per_glance)))
        for i, g in enumerate(per_glance):
            correct_by_glance[i] += float((out.step_logits[:, g - 1].argmax(1) == y).sum())
        clean.append((out.step_logits[:, glances - 1].argmax(1) == y).cpu().numpy())
        m_clean = attention_on_item(out.attention[:, :glances], boxes)
        mass.append(m_clean)
        res = pgd(model, x, y, AttackConfig(eps=8 / 255, steps=attack_steps, target="random"),
                  glances=glances, seed=seed * 7919 + b)
        with torch.no_grad():
            robust.append((model(res.images, glances=glances).logits.argmax(1) == y).cpu().numpy())
        for eps in ("16", "32"):
            res = pgd(model, x, y, AttackConfig(eps=int(eps) / 255, steps=attack_steps, target="random"),
                      glances=glances, seed=seed * 7919 + b + 1)
            with torch.no_grad():
                adv = model(res.images, glances=glances)
            ok = res.success.cpu().numpy()
            success[eps].append(ok)
            drops[eps].append((m_clean - attention_on_item(adv.attention, boxes))[ok])
        if bar is not None:
            bar.update(1)
            bar.set_postfix(clean=f"{np.concatenate(clean).mean():.3f}",
                            robust=f"{np.concatenate(robust).mean():.3f}")
    if bar is not None:
        bar.close()
    correct_by_glance = np.array(all_reduce_sum(list(correct_by_glance), device))
    result: dict[str, Any] = {
        "n": n, "glances": glances, "seed": seed,
        "clean_acc": float(gather_array(clean).mean()),
        f"pgd{attack_steps}_random_target_8_255_acc": float(gather_array(robust).mean()),
        "attention_on_item_clean": float(gather_array(mass).mean()),
        "clean_acc_by_glances": {str(g): float(c / n) for g, c in zip(per_glance, correct_by_glance)},
    }
    for eps in ("16", "32"):
        d = gather_array(drops[eps])
        result[f"targeted_pgd{attack_steps}_{eps}_255_success"] = float(gather_array(success[eps]).mean())
        result[f"attention_on_item_drop_{eps}_255"] = float(d.mean()) if d.size else float("nan")
    return result


def robustness_grid(models: dict[str, nn.Module], n: int = 500, glances: Sequence[int] = (1, 2, 4, 8, 16),
                    steps: Sequence[int] = (0, 10, 20, 50), eps_255: Sequence[float] = (8, 16),
                    targets: Sequence[str] = ("random", "untargeted"), batch_size: int = 100,
                    seed: int = 0, progress: bool = True) -> list[dict[str, Any]]:
    """Accuracy under L-inf PGD for every (model, glances, target, eps, steps), with attention on
    the item clean and adversarial. Each step count is its own attack (the default step size
    depends on it); the baseline has no glances and is run once, reported as glances=1."""
    jobs = []
    for name, model in models.items():
        g_list = list(glances) if model.config.arch == "s3ta" else [1]
        for g in g_list:
            for t in targets:
                for e in eps_255:
                    for k in steps:
                        jobs.append((name, model, g, t, e, k))
    mine = shard([range(s, min(n, s + batch_size)) for s in range(0, n, batch_size)])
    batches = [(b, make_batch("test", idx, seed=seed)) for b, idx in mine]  # this rank's shard
    bar = None
    if progress:
        from tqdm import tqdm
        bar = tqdm(total=len(jobs) * len(batches), desc="grid", dynamic_ncols=True)
    clean_mass: dict[tuple[str, int, int], np.ndarray] = {}
    rows = []
    for name, model, g, t, e, k in jobs:
        correct, succeeded, mass_clean, mass_adv, t0 = [], [], [], [], time.time()
        device = next(model.parameters()).device
        for b, (x, y, boxes) in batches:
            x, y = x.to(device), y.to(device)
            key = (name, g, b)
            if key not in clean_mass:
                with torch.no_grad():
                    clean_mass[key] = attention_on_item(model(x, glances=g).attention, boxes)
            cfg = AttackConfig(eps=e / 255, steps=k, target=t)
            res = pgd(model, x, y, cfg, glances=g, seed=seed * 7919 + b)
            with torch.no_grad():
                adv = model(res.images, glances=g)
            correct.append((adv.logits.argmax(1) == y).cpu().numpy())
            succeeded.append(res.success.cpu().numpy())
            mass_clean.append(clean_mass[key])
            mass_adv.append(attention_on_item(adv.attention, boxes))
            if bar is not None:
                bar.update(1)
        rows.append({"model": name, "arch": model.config.arch, "glances": g, "target": t, "eps_255": e,
                     "steps": k, "n": n, "acc": float(gather_array(correct).mean()),
                     "attack_success": float(gather_array(succeeded).mean()),
                     "attention_on_item_clean": float(gather_array(mass_clean).mean()),
                     "attention_on_item_adv": float(gather_array(mass_adv).mean()),
                     "seconds": round(time.time() - t0, 2)})
    if bar is not None:
        bar.close()
    return rows


def folder_robustness(model: nn.Module, dataset: ImageFolder, glances: Sequence[int] = (4, 16),
                      eps_255: Sequence[float] = (16,), steps: Sequence[int] = (0, 10), target: str = "random",
                      batch_size: int = 50, seed: int = 0, n: int | None = None,
                      progress: bool = True) -> list[dict[str, Any]]:
    """Accuracy on an image folder (e.g. ImageNet val) clean and under L-inf PGD, for every
    (glances, eps, steps); under torchrun each rank takes every world-th batch and the counts
    are summed on every rank. Class indices follow the checkpoint's ``class_names``."""
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be an integer >= 1, got {batch_size!r}")
    if target not in ("random", "untargeted"):
        raise ValueError(f"target must be 'random' or 'untargeted', got {target!r}")
    total = len(dataset) if n is None else min(n, len(dataset))
    if total < 1:
        raise ValueError(f"n must be >= 1 (images to evaluate), got {n!r}")
    g_list = list(glances) if model.config.arch == "s3ta" else [1]
    jobs = [(g, e, k) for g in g_list for e in eps_255 for k in steps]
    counts = np.zeros((len(jobs), 2))  # correct, attack successes
    device = next(model.parameters()).device
    mine = shard([range(s, min(total, s + batch_size)) for s in range(0, total, batch_size)])
    bar = None
    if progress and is_main():
        from tqdm import tqdm
        bar = tqdm(total=len(mine), desc="evaluate", dynamic_ncols=True)
    t0 = time.time()
    for b, idx in mine:
        items = [dataset[i] for i in idx]
        x = torch.stack([im for im, _ in items]).to(device)
        y = torch.tensor([lab for _, lab in items], device=device)
        for j, (g, e, k) in enumerate(jobs):
            res = pgd(model, x, y, AttackConfig(eps=e / 255, steps=k, target=target), glances=g,
                      seed=seed * 7919 + b)
            with torch.no_grad():
                counts[j, 0] += float((model(res.images, glances=g).logits.argmax(1) == y).sum())
            counts[j, 1] += float(res.success.sum())
        if bar is not None:
            bar.update(1)
    if bar is not None:
        bar.close()
    counts = np.array(all_reduce_sum(counts.ravel().tolist(), device)).reshape(counts.shape)
    return [{"glances": g, "target": target, "eps_255": e, "steps": k, "n": total,
             "acc": counts[j, 0] / total, "attack_success": counts[j, 1] / total,
             "seconds": round(time.time() - t0, 1)} for j, (g, e, k) in enumerate(jobs)]


def grid_markdown(rows: Sequence[dict[str, Any]]) -> str:
    """One table per (target, eps): rows model x glances, columns attack steps (accuracy)."""
    out = []
    for t in dict.fromkeys(r["target"] for r in rows):
        for e in dict.fromkeys(r["eps_255"] for r in rows):
            sub = [r for r in rows if r["target"] == t and r["eps_255"] == e]
            steps = sorted({r["steps"] for r in sub})
            out.append(f"\n**{t} target, eps {e:g}/255** (accuracy; attention on item clean -> at the most steps)\n")
            out.append("| model | glances | " + " | ".join(f"{k} steps" for k in steps) + " | attention on item |")
            out.append("|---|---:|" + "---:|" * len(steps) + "---|")
            for m, g in dict.fromkeys((r["model"], r["glances"]) for r in sub):
                cells = {r["steps"]: r for r in sub if r["model"] == m and r["glances"] == g}
                last = cells[steps[-1]]
                out.append(f"| {m} | {g} | " + " | ".join(f"{cells[k]['acc']:.3f}" for k in steps) +
                           f" | {last['attention_on_item_clean']:.2f} -> {last['attention_on_item_adv']:.2f} |")
    return "\n".join(out) + "\n"


def write_grid(rows: Sequence[dict[str, Any]], out_dir: Path, command: str) -> None:
    """results.md, results.csv, results.json and race_<target>_<eps>.html in ``out_dir``."""
    import csv

    from viz.plots import race_figure
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "results.json").write_text(json.dumps({"command": command, "rows": list(rows)}, indent=1) + "\n")
    with open(out_dir / "results.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    (out_dir / "results.md").write_text(f"Command: `{command}`\n" + grid_markdown(rows))
    for t in dict.fromkeys(r["target"] for r in rows):
        for e in dict.fromkeys(r["eps_255"] for r in rows):
            fig = race_figure(rows, e, t)
            fig.write_html(out_dir / f"race_{t}_{e:g}.html", include_plotlyjs="cdn")


def get_args_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    sub = p.add_subparsers(dest="mode", required=True)
    f = sub.add_parser("floors", help="the floor metrics of one checkpoint")
    f.add_argument("--checkpoint", type=Path, default=None, help="default: the shipped default")
    f.add_argument("--n", "--num-examples", dest="n", type=int, default=2000, help="test canvases (--num-examples under torchrun: its parser takes --n for its own options)")
    f.add_argument("--glances", type=int, default=None)
    f.add_argument("--write-metadata", action="store_true",
                   help="store the numbers in the checkpoint's metadata (metrics.test)")
    f.add_argument("--json", type=Path, help="also write the numbers to this file")
    g = sub.add_parser("grid", help="accuracy under attack over glances x steps x eps")
    g.add_argument("--checkpoints", type=Path, nargs="+", default=None,
                   help="default: the shipped default S3TA and the baseline")
    g.add_argument("--n", "--num-examples", dest="n", type=int, default=500, help="test canvases (--num-examples under torchrun: its parser takes --n for its own options)")
    g.add_argument("--glances", type=int, nargs="+", default=[1, 2, 4, 8, 16])
    g.add_argument("--steps", type=int, nargs="+", default=[0, 10, 20, 50])
    g.add_argument("--eps", type=float, nargs="+", default=[8, 16], help="in /255 units")
    g.add_argument("--targets", nargs="+", default=["random", "untargeted"], choices=["random", "untargeted"])
    g.add_argument("--out", type=Path, default=Path("docs/results"))
    d = sub.add_parser("folder", help="accuracy under attack on an image folder (e.g. ImageNet val)")
    d.add_argument("--checkpoint", type=Path, required=True)
    d.add_argument("--root", type=Path, required=True, help="root/<class>/<image>, classes named as in the checkpoint")
    d.add_argument("--n", "--num-examples", dest="n", type=int, default=None,
                   help="first n images (default: all) (--num-examples under torchrun: its parser takes --n for its own options)")
    d.add_argument("--glances", type=int, nargs="+", default=[4, 16])
    d.add_argument("--steps", type=int, nargs="+", default=[0, 10])
    d.add_argument("--eps", type=float, nargs="+", default=[16], help="in /255 units")
    d.add_argument("--target", default="random", choices=["random", "untargeted"])
    d.add_argument("--crop-fraction", type=float, default=0.875)
    d.add_argument("--json", type=Path, help="also write the rows to this file")
    for q in (f, g, d):
        q.add_argument("--batch-size", type=int, default=100)
        q.add_argument("--seed", type=int, default=0)
        q.add_argument("--threads", type=int, default=None)
        q.add_argument("--device", default=None, help="cpu, cuda, cuda:1 (default: cuda if available; "
                                                      "under torchrun cuda:LOCAL_RANK)")
    return p


def main(args: argparse.Namespace) -> Any:
    """Run one mode; under torchrun every rank computes its shard and rank 0 writes the results."""
    import torch.distributed as dist

    try:
        return _run(args)
    finally:
        if dist.is_initialized():
            dist.barrier()
            dist.destroy_process_group()


def _run(args: argparse.Namespace) -> Any:
    from .checkpoint import DEFAULT_CHECKPOINT
    if args.threads:
        torch.set_num_threads(args.threads)
    _, world, device = setup_distributed(args.device)
    prefix = ["python", "-m"] if world == 1 else ["torchrun", f"--nproc_per_node={world}", "-m"]
    command = " ".join(shlex.quote(a) for a in [*prefix, "model.evaluate", *sys.argv[1:]])
    main_rank = is_main()
    if args.mode == "grid":
        paths = args.checkpoints or [DEFAULT_CHECKPOINT, DEFAULT_CHECKPOINT.parent / "baseline_default.safetensors"]
        models = {p.stem: load_checkpoint(p, device)[0] for p in paths}
        rows = robustness_grid(models, args.n, args.glances, args.steps, args.eps, args.targets,
                               args.batch_size, args.seed, progress=main_rank)
        if main_rank:
            write_grid(rows, args.out, command)
            print(grid_markdown(rows))
        return rows
    if args.mode == "folder":
        model, meta, _ = load_checkpoint(args.checkpoint, device)
        dataset = ImageFolder(args.root, model.config.image_size,
                              EvalTransform(model.config.image_size, args.crop_fraction),
                              classes=list(meta.get("class_folders") or meta["class_names"]))
        rows = folder_robustness(model, dataset, args.glances, args.eps, args.steps, args.target,
                                 args.batch_size, args.seed, args.n, progress=main_rank)
        if main_rank:
            print(json.dumps({"command": command, "world_size": world, "rows": rows}, indent=1))
            if args.json:
                args.json.write_text(json.dumps({"command": command, "world_size": world, "rows": rows},
                                                indent=1) + "\n")
        return rows
    path = args.checkpoint or DEFAULT_CHECKPOINT
    model, meta, _ = load_checkpoint(path, device)
    t0 = time.time()
    result = task_metrics(model, args.n, args.glances, args.batch_size, args.seed, progress=main_rank)
    result["wall_time_s"] = round(time.time() - t0, 1)
    result["command"] = command
    if main_rank:
        print(json.dumps(result, indent=1))
        if args.json:
            args.json.write_text(json.dumps(result, indent=1) + "\n")
        if args.write_metadata:
            meta.setdefault("metrics", {})["test"] = result
            meta.pop("config", None)
            save_checkpoint(model, path, meta)
    return result


def cli() -> None:
    main(get_args_parser().parse_args())


if __name__ == "__main__":
    cli()
