"""Attack cost relative to one bare forward+backward pass of the same model on the same batch.

    python bench/attack_overhead.py --batch 32 --steps 20 --repeats 3

For our PGD, captum.robust.PGD and torchattacks.PGD (L-inf, untargeted, every example attacked
for every step: no early stop), it reports seconds per attack step divided by the seconds of one
forward + input-gradient backward (timed as ``--steps`` passes in a loop, like the attacks), all
measured in the same run, interleaved, ``--repeats`` times: each ratio is taken against a bare
loop timed just before it, and the median (with min and max) is reported. Then the latency of a
20-step PGD on one image and on a 100-image batch. Writes a markdown table to stdout (and to
--md if given).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time

import torch
import torch.nn.functional as F
from report import emit  # bench/report.py, beside this script

from model import AttackConfig, load_model, pgd
from model.data import make_batch
from model.inference import LogitsOnly


def best_time(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--md", default=None)
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    model = load_model()
    glances = model.config.glances
    x, y, _ = make_batch("test", range(args.batch))
    eps, alpha, steps = 8 / 255, 1 / 255, args.steps

    def bare():
        xr = x.clone().requires_grad_(True)
        loss = F.cross_entropy(model(xr, glances=glances).logits, y, reduction="none")
        torch.autograd.grad(loss.sum(), xr)

    cfg = AttackConfig(eps=eps, steps=steps, step_size=alpha, target="untargeted", random_start=True,
                       early_stop=False, select="last")

    def ours():
        pgd(model, x, y, cfg, glances=glances, seed=0)

    def logits(inp):
        return model(inp, glances=glances).logits

    rows = []
    candidates = {"ours (model.attacks.pgd)": ours}
    try:
        from captum.robust import PGD
        cap = PGD(logits, torch.nn.CrossEntropyLoss(reduction="none"), 0.0, 1.0)
        candidates["captum.robust.PGD"] = lambda: cap.perturb(x, eps, alpha, steps, y, random_start=True)
    except ImportError:
        pass
    try:
        import torchattacks

        ta = torchattacks.PGD(LogitsOnly(model, glances).eval(), eps=eps, alpha=alpha, steps=steps,
                              random_start=True)
        candidates["torchattacks.PGD"] = lambda: ta(x, y)
    except ImportError:
        pass

    bare()  # warm-up
    for fn in candidates.values():
        fn()
    ratios = {name: [] for name in candidates}
    per_step_ms = {name: [] for name in candidates}
    bare_ms = []
    for _ in range(args.repeats):  # interleaved: each ratio compares timings taken back to back
        for name, fn in candidates.items():
            t_bare = best_time(lambda: [bare() for _ in range(steps)], 1) / steps
            t_step = best_time(fn, 1) / steps
            bare_ms.append(t_bare * 1e3)
            per_step_ms[name].append(t_step * 1e3)
            ratios[name].append(t_step / t_bare)
    for name in candidates:
        r = sorted(ratios[name])
        rows.append((name, statistics.median(per_step_ms[name]), statistics.median(r), r[0], r[-1]))
    t_bare = statistics.median(bare_ms) / 1e3

    one = best_time(lambda: pgd(model, x[:1], y[:1], AttackConfig(eps=eps, steps=20, target="random",
                                                                     early_stop=False), seed=0), args.repeats)
    xb, yb, _ = make_batch("test", range(100))
    hundred = best_time(lambda: pgd(model, xb, yb, AttackConfig(eps=eps, steps=20, target="random",
                                                                   early_stop=False), seed=0), 1)
    lines = [f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
             f"{torch.get_num_threads()} torch threads, torch {torch.__version__}; model: shipped "
             f"default S3TA at {glances} glances; batch {args.batch}, {steps} steps, L-inf 8/255.",
             "", f"Bare forward+backward (median): {t_bare * 1e3:.1f} ms", "",
             "| attack | ms per step | per step / bare fwd+bwd (median) | min | max |",
             "|---|---:|---:|---:|---:|"]
    lines += [f"| {n} | {ms:.1f} | {r:.3f} | {lo:.3f} | {hi:.3f} |" for n, ms, r, lo, hi in rows]
    lines += ["", "| PGD-20 latency (ours, random target, no early stop) | seconds |", "|---|---:|",
              f"| 1 image | {one:.3f} |", f"| 100-image batch | {hundred:.3f} |"]
    emit(lines, args.md)


if __name__ == "__main__":
    main()
