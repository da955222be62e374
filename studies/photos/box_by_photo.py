"""Attention on pasted objects, photograph by photograph: the held-out "attention in the box" of
``programs.distill`` (the same scenes, the same seed) split by the photograph each scene was
cropped from, for one or more photo heads.

    python -m studies.photos.box_by_photo --holdout data/photos/hold --holdout-cutouts data/photos/cutouts_hold \\
        --heads assets/photo_attention.safetensors --json studies/photos/box_by_photo.json

Why: the pooled ratio hides whether a head ignores pasted objects everywhere or only where the
photograph has an object of its own (a cat, a cup) that the head looks at instead.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch

from model.checkpoint import load_checkpoint
from programs.distill.cli import _views
from programs.distill.measure import box_masses
from programs.distill.scenes import list_images


def by_photo(head: Path, photos: list[Path], cutouts: list[Path], views: int, seed: int) -> dict[str, dict]:
    """{photo stem: {n, mass_in_box, box_share, ratio}} over the scenes with a box, and "all"."""
    model = load_checkpoint(head, "cpu")[0].eval()
    m, a, with_box = box_masses(model, _views(photos, cutouts, views, seed), model.default_glances)
    src = np.array([s.source for s in with_box])
    groups = {p.stem: src == i for i, p in enumerate(photos)} | {"all": np.ones_like(src, dtype=bool)}
    return {name: {"n": int(k.sum()), "mass_in_box": float(m[k].mean()), "box_share": float(a[k].mean()),
                   "ratio": float(m[k].mean() / a[k].mean())} for name, k in groups.items() if k.any()}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--holdout", type=Path, required=True)
    p.add_argument("--holdout-cutouts", type=Path, required=True)
    p.add_argument("--heads", type=Path, nargs="+", required=True)
    p.add_argument("--views", type=int, default=512)
    p.add_argument("--seed", type=int, default=2, help="2: the scenes programs.distill measures (its seed + 2)")
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--json", type=Path, default=None)
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    photos, cutouts = list_images(args.holdout), list_images(args.holdout_cutouts)
    rows = {str(h): by_photo(h, photos, cutouts, args.views, args.seed) for h in args.heads}
    names = [p.stem for p in photos] + ["all"]
    print("| head | " + " | ".join(names) + " |")
    print("|---|" + "---:|" * len(names))
    for head, r in rows.items():
        print(f"| `{head}` | " + " | ".join(f"{r[n]['ratio']:.2f}" if n in r else "-" for n in names) + " |")
    if args.json:
        args.json.write_text(json.dumps({"command": "python " + " ".join(sys.argv), "rows": rows}, indent=1) + "\n")


if __name__ == "__main__":
    main()
