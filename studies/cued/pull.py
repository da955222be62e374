"""Where a targeted attack moves the cued model's attention, by where its target is: another
item on the canvas (one of the two distractors' classes) or a class absent from the canvas.

    python -m studies.cued.pull assets/s3ta_cued.safetensors --n 500 --json studies/cued/pull.json

For each canvas, two targeted attacks (the app's default: L-inf PGD-20 at 32/255, aimed at the
model's own glance count): towards the class of a distractor chosen at random, and towards a
random class none of the three items has. Over the attacks that succeed: attention mass at
glance 1 on the cue, and at the later glances on the named item and on the target distractor's
square, clean -> adversarial, and the share of them after which the later glances hold more mass
on the target's square than on the named item's. A model that reads the cue and then the item of its colour can be
pulled to another item by repainting the cue; an absent class can only be painted in place.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch

from model import AttackConfig, pgd
from model.checkpoint import load_checkpoint
from model.data import CANVAS, load_fashion_mnist
from model.data.cued import CUE_STYLES, CUED_TASKS, cued_scene
from model.metrics import mean_box_mass
from scripts.race_table import wilson


def masses(attention: torch.Tensor, boxes: np.ndarray) -> np.ndarray:
    """(B,) mass of the head- and glance-averaged attention (B, N, heads, h, w) in boxes (B, 4)."""
    return mean_box_mass(attention.numpy(), boxes, (CANVAS, CANVAS))


def pull(path: Path, n: int, eps: float, steps: int, batch: int = 100, seed: int = 0) -> dict:
    model, meta, _ = load_checkpoint(path)
    if meta.get("task") not in CUED_TASKS:
        raise SystemExit(f"{path} was trained on {meta.get('task')!r}, not a cued task")
    style = CUED_TASKS[meta["task"]]
    glances = model.config.glances
    images, labels = load_fashion_mnist("test")
    rng = np.random.default_rng(seed)
    rows: dict[str, dict[str, list]] = {k: {"success": [], "cue": [], "item": [], "target_item": []}
                                        for k in ("distractor", "absent")}
    cfg = AttackConfig(eps=eps / 255, steps=steps, target="class", target_class=0)  # targets passed per image
    for start in range(0, n, batch):
        scenes = [cued_scene(images, labels, "test", i, seed, style) for i in range(start, min(n, start + batch))]
        x = torch.stack([torch.from_numpy(c.image).permute(2, 0, 1) for c, _ in scenes])
        y = torch.tensor([c.label for c, _ in scenes])
        shown = [[int(labels[i]) for i in lay.items] for _, lay in scenes]  # distractors first, named last
        pick = rng.integers(0, 2, size=len(scenes))  # which distractor
        to_distractor = torch.tensor([s[k] for s, k in zip(shown, pick)])
        to_absent = torch.tensor([rng.choice([c for c in range(10) if c not in s]) for s in shown])
        cue = np.tile(CUE_STYLES[style].cue, (len(scenes), 1))
        item = np.array([c.box for c, _ in scenes])
        other = np.array([lay.squares()[k] for (_, lay), k in zip(scenes, pick)])  # the target distractor's
        with torch.no_grad():
            clean = model(x, glances=glances).attention
        for name, targets in (("distractor", to_distractor), ("absent", to_absent)):
            res = pgd(model, x, y, cfg, glances=glances, seed=seed + start, targets=targets)
            with torch.no_grad():
                adv = model(res.images, glances=glances).attention
            r = rows[name]
            r["success"] += res.success.tolist()
            r["cue"] += list(zip(masses(clean[:, :1], cue), masses(adv[:, :1], cue)))
            r["item"] += list(zip(masses(clean[:, 1:], item), masses(adv[:, 1:], item)))
            r["target_item"] += list(zip(masses(clean[:, 1:], other), masses(adv[:, 1:], other)))
        print(f"{min(n, start + batch)}/{n}", flush=True)
    out = {"checkpoint": str(path), "n": n, "eps_255": eps, "steps": steps, "glances": glances,
           "command": "python " + " ".join(sys.argv)}
    for name, r in rows.items():
        ok = np.array(r["success"], bool)
        lo, hi = wilson(float(ok.mean()), len(ok))
        summary = {"success": float(ok.mean()), "success_interval": [lo, hi], "successful": int(ok.sum())}
        for key in ("cue", "item", "target_item"):
            pairs = np.array(r[key])[ok]
            summary[key] = [float(pairs[:, 0].mean()), float(pairs[:, 1].mean())] if len(pairs) else None
        if ok.any():  # attacks that moved the later glances: more mass on the target's item than the named one
            moved = np.array(r["target_item"])[ok, 1] > np.array(r["item"])[ok, 1]
            summary["moved_to_target_item"] = float(moved.mean())
        out[name] = summary
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("checkpoint", type=Path)
    ap.add_argument("--n", type=int, default=500)
    ap.add_argument("--eps", type=float, default=32, help="/255")
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    result = pull(args.checkpoint, args.n, args.eps, args.steps)
    text = json.dumps(result, indent=1)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")


if __name__ == "__main__":
    main()
