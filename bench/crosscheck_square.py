"""Cross-check our Square Attack against torchattacks' Square on the same canvases and budget.

    pip install --no-deps torchattacks && pip install scipy   # the peer; its package imports scipy
    python -m bench.crosscheck_square --n 500 --queries 1000 --md bench/crosscheck_square.md

Robust accuracy of a checkpoint (the shipped default unless ``--checkpoint``), on the first n test
canvases of its task, at its glance count, under untargeted L-inf Square Attack at 16/255 with
the same query budget and starting square fraction (p_init 0.8, torchattacks' default) in both:
ours (``model.square``, batches of 100, the CLI's seeds) and torchattacks' (margin loss, its
rescaled schedule, one restart). Both read the checkpoint's inference form. The two must agree
within 0.03; a larger gap means one implementation is weaker. PGD-100 (ours, the protocol's step
size) on the same canvases is shown beside them.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from bench.report import emit
from model import AttackConfig, load_model, pgd
from model.data import DEFAULT_TASK, make_batch
from model.inference import LogitsOnly
from model.inference_form import inference_form
from model.square import SquareConfig, square_attack
from programs.evaluate.measure import wilson
from programs.seeds import eval_attack_seed


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--n", type=int, default=500)
    p.add_argument("--eps", type=float, default=16, help="/255")
    p.add_argument("--queries", type=int, default=1000)
    p.add_argument("--p-init", type=float, default=0.8)
    p.add_argument("--pgd-steps", type=int, default=100, help="0 leaves PGD out")
    p.add_argument("--checkpoint", default=None)
    p.add_argument("--md", default=None)
    args = p.parse_args()
    import torchattacks

    model = inference_form(load_model(args.checkpoint))
    glances = model.default_glances
    task = model.metadata.get("task", DEFAULT_TASK)
    eps = args.eps / 255
    wrapped = LogitsOnly(model, glances).eval()
    peer = torchattacks.Square(wrapped, norm="Linf", eps=eps, n_queries=args.queries, n_restarts=1,
                               p_init=args.p_init, loss="margin", resc_schedule=True, seed=0)
    queries_used: list[np.ndarray] = []

    def ours(x: torch.Tensor, y: torch.Tensor, b: int) -> torch.Tensor:
        res = square_attack(model, x, y, SquareConfig(eps=eps, queries=args.queries, p_init=args.p_init),
                            glances=glances, seed=eval_attack_seed(0, b))
        queries_used.append(res.queries.numpy())
        return res.images

    attacks = {f"ours: Square, {args.queries:,} queries": ours,
               f"torchattacks {torchattacks.__version__}: Square, {args.queries:,} queries": lambda x, y, b: peer(x, y)}
    if args.pgd_steps:
        attacks[f"ours: PGD-{args.pgd_steps} (protocol step, random start)"] = (
            lambda x, y, b: pgd(model, x, y, AttackConfig(eps=eps, steps=args.pgd_steps, target="untargeted"),
                                glances=glances, seed=eval_attack_seed(0, b)).images)
    rows, correct_by = [], {}
    for name, attack in attacks.items():
        correct, t0 = [], time.time()
        for b, start in enumerate(range(0, args.n, 100)):
            x, y, _ = make_batch("test", range(start, min(args.n, start + 100)), task=task)
            adv = attack(x, y, b)
            assert (adv - x).abs().max() <= eps + 1e-6 and 0 <= adv.min() and adv.max() <= 1
            with torch.no_grad():
                correct.append((model(adv, glances=glances).logits.argmax(1) == y).numpy())
        ok = np.concatenate(correct)
        correct_by[name] = ok
        rows.append((name, ok.mean(), wilson(int(ok.sum()), args.n), time.time() - t0))
        print(rows[-1], flush=True)
    (a, ok_a), (b_name, ok_b) = list(correct_by.items())[:2]
    used = np.concatenate(queries_used)
    label = "Shipped default S3TA" if args.checkpoint is None else f"`{args.checkpoint}`"
    lines = [f"{label} (inference form), {glances} glances, {args.n} test canvases of {task}, untargeted L-inf "
             f"eps {args.eps:g}/255; Square with p_init {args.p_init:g} in both.", "",
             "| attack | robust accuracy | 95% interval | seconds |", "|---|---:|---|---:|"]
    lines += [f"| {n} | {acc:.3f} | {lo:.3f}-{hi:.3f} | {t:.0f} |" for n, acc, (lo, hi), t in rows]
    lines += ["", f"Ours minus torchattacks: {ok_a.mean() - ok_b.mean():+.3f} (goal: within 0.03). The two agree "
              f"on {(ok_a == ok_b).mean():.3f} of the canvases; ours spent {used.mean():.0f} queries per canvas on "
              f"average (median {np.median(used):.0f})."]
    emit(lines, args.md)


if __name__ == "__main__":
    main()
