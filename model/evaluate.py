"""Evaluate a checkpoint on the Cluttered Fashion-MNIST test split: accuracy, robustness, and
where the attention goes, clean and under attack.

    python -m model.evaluate --checkpoint assets/s3ta_default.safetensors --n 2000 --write-metadata

Reports, at the model's default glance count unless told otherwise: clean accuracy (and per
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
from typing import Any

import numpy as np
import torch
from torch import nn

from viz.metrics import box_mass

from .attacks import AttackConfig, pgd
from .checkpoint import load_checkpoint, save_checkpoint
from .data import CANVAS, make_batch

__all__ = ["task_metrics", "attention_on_item", "main", "get_args_parser"]


def attention_on_item(attention: torch.Tensor, boxes: torch.Tensor, image_size: int = CANVAS
                      ) -> np.ndarray:
    """(B,) mass of the glance- and head-averaged attention (B, N, heads, h, w) in each box."""
    mean_map = attention.detach().float().mean(dim=(1, 2)).cpu().numpy()  # (B, h, w)
    return box_mass(mean_map, boxes.cpu().numpy(), (image_size, image_size))


def task_metrics(model: nn.Module, n: int = 2000, glances: int | None = None,
                 batch_size: int = 100, seed: int = 0, attack_steps: int = 20,
                 progress: bool = True) -> dict[str, Any]:
    """The issue's floor metrics on the first ``n`` test canvases (seed ``seed``)."""
    glances = glances or model.config.glances
    is_s3ta = model.config.arch == "s3ta"
    per_glance = list(range(1, 17)) if is_s3ta else [1]
    sums: dict[str, float] = {}
    correct_by_glance = np.zeros(len(per_glance))
    drops: dict[str, list[np.ndarray]] = {"16": [], "32": []}
    success: dict[str, list[np.ndarray]] = {"16": [], "32": []}
    robust, clean, mass = [], [], []
    starts = range(0, n, batch_size)
    bar = None
    if progress:
        from tqdm import tqdm
        bar = tqdm(total=len(starts), desc="evaluate", dynamic_ncols=True)
    for b, start in enumerate(starts):
        x, y, boxes = make_batch("test", range(start, min(n, start + batch_size)), seed=seed)
        with torch.no_grad():
            out = model(x, glances=max(glances, max(per_glance)))
            for i, g in enumerate(per_glance):
                correct_by_glance[i] += float((out.step_logits[:, g - 1].argmax(1) == y).sum())
            out = model(x, glances=glances)
        clean.append((out.logits.argmax(1) == y).numpy())
        m_clean = attention_on_item(out.attention, boxes)
        mass.append(m_clean)
        res = pgd(model, x, y, AttackConfig(eps=8 / 255, steps=attack_steps, target="random"),
                  glances=glances, seed=seed * 7919 + b)
        with torch.no_grad():
            robust.append((model(res.images, glances=glances).logits.argmax(1) == y).numpy())
        for eps in ("16", "32"):
            res = pgd(model, x, y, AttackConfig(eps=int(eps) / 255, steps=attack_steps, target="random"),
                      glances=glances, seed=seed * 7919 + b + 1)
            with torch.no_grad():
                adv = model(res.images, glances=glances)
            ok = res.success.numpy()
            success[eps].append(ok)
            drops[eps].append((m_clean - attention_on_item(adv.attention, boxes))[ok])
        if bar is not None:
            bar.update(1)
            bar.set_postfix(clean=f"{np.concatenate(clean).mean():.3f}",
                            robust=f"{np.concatenate(robust).mean():.3f}")
    if bar is not None:
        bar.close()
    result: dict[str, Any] = {
        "n": n, "glances": glances, "seed": seed,
        "clean_acc": float(np.concatenate(clean).mean()),
        f"pgd{attack_steps}_random_target_8_255_acc": float(np.concatenate(robust).mean()),
        "attention_on_item_clean": float(np.concatenate(mass).mean()),
        "clean_acc_by_glances": {str(g): float(c / n) for g, c in zip(per_glance, correct_by_glance)},
    }
    for eps in ("16", "32"):
        d = np.concatenate(drops[eps])
        result[f"targeted_pgd{attack_steps}_{eps}_255_success"] = float(np.concatenate(success[eps]).mean())
        result[f"attention_on_item_drop_{eps}_255"] = float(d.mean()) if d.size else float("nan")
    return result


def get_args_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--checkpoint", type=Path, default=None, help="default: the shipped default")
    p.add_argument("--n", type=int, default=2000, help="test canvases")
    p.add_argument("--glances", type=int, default=None)
    p.add_argument("--batch-size", type=int, default=100)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--write-metadata", action="store_true",
                   help="store the numbers in the checkpoint's metadata (metrics.test)")
    p.add_argument("--json", type=Path, help="also write the numbers to this file")
    return p


def main(args: argparse.Namespace) -> dict[str, Any]:
    from .checkpoint import DEFAULT_CHECKPOINT
    if args.threads:
        torch.set_num_threads(args.threads)
    path = args.checkpoint or DEFAULT_CHECKPOINT
    model, meta, _ = load_checkpoint(path)
    t0 = time.time()
    result = task_metrics(model, args.n, args.glances, args.batch_size, args.seed)
    result["wall_time_s"] = round(time.time() - t0, 1)
    result["command"] = " ".join(shlex.quote(a) for a in ["python", "-m", "model.evaluate", *sys.argv[1:]])
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
