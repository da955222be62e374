"""Cross-check our PGD against independent attacks from torchattacks (PGD and APGD-CE).

    pip install --no-deps torchattacks   # its torchvision dependency is not needed for this
    python -m bench.crosscheck_torchattacks --n 500 --md bench/crosscheck.md

Robust accuracy of a checkpoint (the shipped default unless ``--checkpoint``), on test canvases
of its own task, at its glance count under untargeted L-inf attacks at 8/255: if an independent attack
finds a robust accuracy more than a couple of points below ours,
our attack is too weak.
"""

from __future__ import annotations

import argparse
import time

import torch

from bench.report import emit
from model import AttackConfig, load_model, pgd
from model.data import DEFAULT_TASK, make_batch
from model.inference import LogitsOnly


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--n", type=int, default=500)
    p.add_argument("--eps", type=float, default=8, help="/255")
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--checkpoint", default=None)
    p.add_argument("--md", default=None)
    args = p.parse_args()
    import torchattacks

    model = load_model(args.checkpoint)
    glances = model.config.glances
    task = model.metadata.get("task", DEFAULT_TASK)
    eps = args.eps / 255

    wrapped = LogitsOnly(model, glances).eval()
    attacks = {
        f"ours PGD-{args.steps} (1/255 steps, random start)":
            lambda x, y: pgd(model, x, y, AttackConfig(eps=eps, steps=args.steps, target="untargeted"), seed=0).images,
        f"ours PGD-{args.steps} (2/255 steps, random start)":
            lambda x, y: pgd(model, x, y, AttackConfig(eps=eps, steps=args.steps, step_size=2 / 255,
                                                       target="untargeted"), seed=0).images,
        f"ours PGD-{5 * args.steps} (default steps, random start)":
            lambda x, y: pgd(model, x, y, AttackConfig(eps=eps, steps=5 * args.steps, target="untargeted"),
                             seed=0).images,
        f"ours PGD-{args.steps} x 3 restarts":
            lambda x, y: pgd(model, x, y, AttackConfig(eps=eps, steps=args.steps, target="untargeted", restarts=3),
                             seed=0).images,
        f"torchattacks PGD-{args.steps} (alpha 2/255)":
            torchattacks.PGD(wrapped, eps=eps, alpha=2 / 255, steps=args.steps, random_start=True),
        f"torchattacks APGD-CE ({args.steps} steps)":
            torchattacks.APGD(wrapped, eps=eps, steps=args.steps, loss="ce", n_restarts=1, seed=0),
    }
    rows = []
    for name, attack in attacks.items():
        correct, t0 = 0, time.time()
        for start in range(0, args.n, 100):
            x, y, _ = make_batch("test", range(start, min(args.n, start + 100)), task=task)
            adv = attack(x, y)
            assert (adv - x).abs().max() <= eps + 1e-6
            with torch.no_grad():
                correct += int((model(adv, glances=glances).logits.argmax(1) == y).sum())
        rows.append((name, correct / args.n, time.time() - t0))
        print(rows[-1], flush=True)
    name = "Shipped default S3TA" if args.checkpoint is None else f"`{args.checkpoint}`"
    lines = [f"{name}, {glances} glances, {args.n} test canvases of {task}, untargeted L-inf "
             f"eps {args.eps:g}/255.", "", "| attack | robust accuracy | seconds |", "|---|---:|---:|"]
    lines += [f"| {n} | {a:.3f} | {t:.0f} |" for n, a, t in rows]
    emit(lines, args.md)


if __name__ == "__main__":
    main()
