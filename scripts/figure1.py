"""The paper's Figure 1 for this task: one targeted example per class, S3TA against the baseline.

    python -m scripts.figure1 --out docs/figure1.jpg
    python -m scripts.figure1 --s3ta assets/s3ta_cued.safetensors --baseline assets/baseline_cued.safetensors \
        --steps 20 --step-size auto --out docs/figure1_cued.jpg   # the cued pair, on cued canvases (PGD-20)

For each class as the target, the first test canvas (seed 0) of the next class is attacked
towards it with the app's default attack (``compute.runs.DEFAULT_ATTACK``: L-inf 32/255, 50 steps of
2/255, stop at success; ``--steps`` and ``--step-size`` to change them) against the
shipped default S3TA (or ``--s3ta``) and, with the same settings and seed, against the shipped
baseline (or ``--baseline``), on canvases of the S3TA checkpoint's task. Each
target gets two rows (S3TA, baseline) of: adversarial image, amplified perturbation, attention
over the adversarial image (mean over glances; none for the baseline).
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path

import numpy as np

from compute.catalog import open_checkpoint, task_of
from compute.runs import DEFAULT_ATTACK, run_attack, step_size_from_255
from model.checkpoint import DEFAULT_CHECKPOINT
from model.data import make_batch
from viz.files import to_jpeg, to_png
from viz.frames import Display, caption, compare_panels

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", type=Path, default=ROOT / "docs" / "figure1.jpg", help=".jpg (small) or .png")
    p.add_argument("--zoom", type=int, default=2)
    p.add_argument("--steps", type=int, default=DEFAULT_ATTACK.steps, help="attack steps (default: the app's)")
    p.add_argument("--step-size", type=step_size_from_255, default=DEFAULT_ATTACK.step_size,
                   help="L-inf step in /255, or 'auto' for the protocol's max(1/255, eps/steps) (default: the app's)")
    p.add_argument("--s3ta", type=Path, default=DEFAULT_CHECKPOINT)
    p.add_argument("--baseline", type=Path, default=DEFAULT_CHECKPOINT.parent / "baseline_default.safetensors")
    args = p.parse_args()
    s3ta, baseline = open_checkpoint(args.s3ta), open_checkpoint(args.baseline)
    task = task_of(s3ta.metadata)
    if task_of(baseline.metadata) != task:
        raise SystemExit(f"{args.s3ta} and {args.baseline} were trained on different tasks")
    names = s3ta.metadata["class_names"]
    x, y, boxes = make_batch("test", range(200), seed=0, task=task)
    display = Display(zoom=args.zoom)
    blocks, lines = [], []
    for target in range(len(names)):
        i = next(j for j in range(len(y)) if int(y[j]) == (target + 1) % len(names))  # a canvas of the next class
        image = x[i].permute(1, 2, 0).numpy()
        label, box = int(y[i]), tuple(int(v) for v in boxes[i])
        cfg = replace(DEFAULT_ATTACK, steps=args.steps, step_size=args.step_size, target="class",
                      target_class=target)
        runs = [("S3TA", True, run_attack(s3ta, image, label, s3ta.default_glances, cfg, seed=0)),
                ("baseline", False, run_attack(baseline, image, label, 1, cfg, seed=0))]
        sheet, notes = compare_panels(image, runs, names, box, display)
        title = f"target {names[target]} (canvas {i}, a {names[label]})"
        blocks.append(caption(sheet, title, height=22))
        lines.append(f"- {title}: " + "; ".join(notes))
    width = max(b.shape[1] for b in blocks)
    gap = np.full((12, width, 3), 255, np.uint8)
    figure = np.concatenate([part for b in blocks for part in (b, gap)][:-1])
    args.out.parent.mkdir(parents=True, exist_ok=True)
    jpeg = args.out.suffix.lower() in (".jpg", ".jpeg")
    args.out.write_bytes(to_jpeg(figure, 88) if jpeg else to_png(figure))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
