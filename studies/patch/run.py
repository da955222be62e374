"""Over test canvases: how often an adversarial patch reaches its target, and where the glances go
once it is there, for S3TA (its attention) against the pooling baseline (its Saliency map).

    python -m studies.patch.run --n 200 --json studies/patch/patch_n200.json --md docs/patch.md

Rule, fixed before the numbers: the page's patch (16 px of 96, the place searched over 16 places
with 20 steps each, 200 signed-gradient steps of 4/255 in all, early stop), towards each canvas's
random wrong class from seed 0 (``compute.runs.image_target``, as the page aims), on test canvases
0..n-1, S3TA read at its shipped glance count. "Looks at the patch" means the last glance's
head-averaged attention (the baseline: its Saliency map for the predicted class) puts more mass on
the patch than on the item's box.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from compute.catalog import open_checkpoint
from compute.intervals import wilson
from compute.runs import attribution, image_target, read_images
from model.data import make_batch
from model.metrics import box_mass
from model.patch import PatchConfig, patch_attack

MODELS = ("s3ta_default", "baseline_default")
CFG = PatchConfig(size=16, steps=200, step_size=4 / 255, place=None, search_steps=20, early_stop=True)


def share(weights: np.ndarray, box: np.ndarray) -> float:
    x0, y0, x1, y1 = (int(v) for v in box)
    total = float(weights.sum())
    return float(weights[y0:y1, x0:x1].sum() / total) if total > 0 else 0.0


def measure(name: str, images: torch.Tensor, labels: torch.Tensor, boxes: np.ndarray, batch: int) -> dict:
    model = open_checkpoint(f"assets/{name}.safetensors", "cpu", True)
    glances = model.default_glances if model.has_attention else 1
    targets = torch.tensor([image_target(im, int(lb), model.config.num_classes, 0)
                            for im, lb in zip(images.permute(0, 2, 3, 1).numpy(), labels)])
    rows = []
    started = time.perf_counter()
    for lo in range(0, len(images), batch):
        x, t = images[lo:lo + batch], targets[lo:lo + batch]
        result = patch_attack(model, x, t, CFG, glances=glances, seed=0)
        clean = read_images(model, x, [glances] * len(x))
        patched = read_images(model, result.images, [glances] * len(x))
        for i in range(len(x)):
            k = lo + i
            x0, y0 = (int(v) for v in result.places[i])
            patch_box = np.array([x0, y0, x0 + CFG.size, y0 + CFG.size])
            row = {"index": k, "label": int(labels[k]), "target": int(t[i]), "success": bool(result.success[i]),
                   "clean_correct": clean[i].label == int(labels[k]), "patched_class": patched[i].label,
                   "place": [x0, y0]}
            if model.has_attention:
                for when, pred in (("clean", clean[i]), ("patched", patched[i])):
                    maps = pred.attention.mean(axis=1)  # (N, h, w)
                    row[f"patch_{when}"] = box_mass(maps, patch_box, (96, 96)).tolist()
                    row[f"item_{when}"] = box_mass(maps, boxes[k], (96, 96)).tolist()
            else:
                image = x[i].permute(1, 2, 0).numpy()
                adv = result.images[i].permute(1, 2, 0).numpy()
                for when, img, pred in (("clean", image, clean[i]), ("patched", adv, patched[i])):
                    weights = attribution(model, img, pred.label, 1)
                    row[f"patch_{when}"] = [share(weights, patch_box)]
                    row[f"item_{when}"] = [share(weights, boxes[k])]
            rows.append(row)
        print(f"{name}: {len(rows)}/{len(images)} in {time.perf_counter() - started:.0f} s", flush=True)
    return {"model": name, "glances": glances, "has_attention": bool(model.has_attention), "rows": rows,
            "seconds": time.perf_counter() - started}


def summary(result: dict) -> dict:
    rows = result["rows"]
    n = len(rows)
    wins = sum(r["success"] for r in rows)
    last = [r["patch_patched"][-1] > r["item_patched"][-1] for r in rows]
    won = [r for r in rows if r["success"]]
    lost = [r for r in rows if not r["success"]]

    def mean(rs: list[dict], key: str) -> float:
        return float(np.mean([r[key][-1] for r in rs])) if rs else float("nan")

    return {"model": result["model"], "n": n, "wins": wins, "win_ci": wilson(wins, n),
            "looks_at_patch": sum(last), "looks_ci": wilson(sum(last), n),
            "patch_clean": mean(rows, "patch_clean"), "patch_patched": mean(rows, "patch_patched"),
            "item_clean": mean(rows, "item_clean"), "item_patched": mean(rows, "item_patched"),
            "patch_patched_won": mean(won, "patch_patched"), "patch_patched_lost": mean(lost, "patch_patched"),
            "per_glance_patch": np.mean([r["patch_patched"] for r in rows], axis=0).tolist(),
            "per_glance_item": np.mean([r["item_patched"] for r in rows], axis=0).tolist()}


def table(sums: list[dict], command: str) -> list[str]:
    lines = ["| model | canvases | patch reached its target [95% CI] | last look more on the patch than the item "
             "[95% CI] | on the patch, clean -> patched | on the item, clean -> patched | on the patch when it won / "
             "when it lost |", "|---|---:|---:|---:|---:|---:|---:|"]
    for s in sums:
        lo, hi = s["win_ci"]
        llo, lhi = s["looks_ci"]
        lines.append(f"| {s['model']} | {s['n']} | {s['wins'] / s['n']:.2f} [{lo:.2f}, {hi:.2f}] | "
                     f"{s['looks_at_patch'] / s['n']:.2f} [{llo:.2f}, {lhi:.2f}] | "
                     f"{s['patch_clean']:.2f} -> {s['patch_patched']:.2f} | {s['item_clean']:.2f} -> "
                     f"{s['item_patched']:.2f} | {s['patch_patched_won']:.2f} / {s['patch_patched_lost']:.2f} |")
    lines += ["", f"Command: `{command}`"]
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--batch", type=int, default=25)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--md", type=Path, default=None)
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    images, labels, boxes = make_batch("test", range(args.n))
    results = [measure(name, images, labels, boxes.numpy(), args.batch) for name in MODELS]
    sums = [summary(r) for r in results]
    command = f"python -m studies.patch.run --n {args.n}"
    if args.json:
        args.json.write_text(json.dumps({"config": CFG.__dict__, "results": results, "summary": sums}, indent=1))
    lines = table(sums, command)
    print("\n".join(lines))
    if args.md:
        args.md.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
