"""Attack step cost relative to one bare eager forward + input-gradient backward of the model.

    python -m bench.attack_overhead --batch 32 --steps 20 --repeats 5 --compile --md bench/attack_overhead.md

Every row is an L-inf PGD (8/255, step 1/255, random start, untargeted, no early stop: every
example attacked for every step). The denominator is always the *unmodified eager model*: one
forward + input-gradient backward on the same batch (timed as ``--steps`` passes in a loop, like
the attacks). Rows: our PGD on the eager model, on its inference form (BatchNorm folded,
channels last), on the compiled inference form (with ``--compile``), and the peers captum and
torchattacks on the eager model. All measured in one run, interleaved, ``--repeats`` times: each
ratio is taken against a bare loop timed just before it; the median (with min and max) is
reported. A peer that cannot be imported is listed with the reason. Then the bare pass of each
ingredient of the form alone (folding, channels-last) and PGD-20 latency on one image and on a
100-image batch, eager against the inference form.
"""

from __future__ import annotations

import argparse
import copy
import os
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F

from bench.report import emit
from model import AttackConfig, load_model, pgd
from model.data import make_batch
from model.inference import LogitsOnly
from model.inference_form import inference_form

ROOT = Path(__file__).resolve().parent.parent

DEVICE = torch.device("cpu")  # set by --device


def sync() -> None:
    """Wait for queued GPU work, so a timer reads what the work took (a no-op on the CPU)."""
    if DEVICE.type == "cuda":
        torch.cuda.synchronize(DEVICE)


def best_time(fn: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        sync()
        t0 = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - t0)
    return min(times)


def peers(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, glances: int, eps: float, alpha: float,
          steps: int) -> tuple[dict[str, Callable[[], object]], list[str]]:
    """(attacks of the peer libraries on the eager model, why any peer is missing)."""
    found, missing = {}, []
    try:
        from captum.robust import PGD

        cap = PGD(lambda inp: model(inp, glances=glances).logits, torch.nn.CrossEntropyLoss(reduction="none"),
                  0.0, 1.0)
        found["captum.robust.PGD, eager model"] = lambda: cap.perturb(x, eps, alpha, steps, y, random_start=True)
    except ImportError as exc:
        missing.append(f"captum.robust.PGD: {exc} (captum is a dependency of the project: reinstall it)")
    try:
        import torchattacks

        ta = torchattacks.PGD(LogitsOnly(model, glances).eval(), eps=eps, alpha=alpha, steps=steps,
                              random_start=True)
        found["torchattacks.PGD, eager model"] = lambda: ta(x, y)
    except ImportError as exc:
        missing.append(f"torchattacks.PGD: {exc} (install with `pip install --no-deps torchattacks` "
                       "and `pip install scipy`, which its package imports)")
    return found, missing


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--compile", action="store_true", help="also time the compiled inference form")
    p.add_argument("--device", default="cpu", help="cpu or cuda (TF32 off on cuda: fp32 means fp32)")
    p.add_argument("--md", default=None)
    args = p.parse_args()
    global DEVICE
    DEVICE = torch.device(args.device)
    if args.threads:
        torch.set_num_threads(args.threads)
    if DEVICE.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
    model = load_model(device=DEVICE)
    form = inference_form(model)
    glances = model.default_glances
    x, y, _ = (t.to(DEVICE) for t in make_batch("test", range(args.batch)))
    eps, alpha, steps = 8 / 255, 1 / 255, args.steps

    def bare() -> None:
        xr = x.clone().requires_grad_(True)
        loss = F.cross_entropy(model(xr, glances=glances).logits, y, reduction="none")
        torch.autograd.grad(loss.sum(), xr)

    cfg = AttackConfig(eps=eps, steps=steps, step_size=alpha, target="untargeted", random_start=True,
                       early_stop=False, select="last")
    candidates: dict[str, Callable[[], object]] = {
        "ours, eager model": lambda: pgd(model, x, y, cfg, glances=glances, seed=0),
        "ours, inference form": lambda: pgd(form, x, y, cfg, glances=glances, seed=0),
    }
    notes = []
    if args.compile:
        compiled = inference_form(model, compile=True)
        t0 = time.perf_counter()
        pgd(compiled, x, y, cfg, glances=glances, seed=0)  # compiles the forward/backward graphs
        notes.append(f"Compiling the inference form (torch.compile, default mode) took "
                     f"{time.perf_counter() - t0:.0f} s before its first attack.")
        candidates["ours, inference form compiled"] = lambda: pgd(compiled, x, y, cfg, glances=glances, seed=0)
    found, missing = peers(model, x, y, glances, eps, alpha, steps)
    candidates.update(found)

    bare()  # warm-up
    for fn in candidates.values():
        fn()
    ratios: dict[str, list[float]] = {name: [] for name in candidates}
    per_step_ms: dict[str, list[float]] = {name: [] for name in candidates}
    bare_ms = []
    for _ in range(args.repeats):  # interleaved: each ratio compares timings taken back to back
        for name, fn in candidates.items():
            t_bare = best_time(lambda: [bare() for _ in range(steps)], 1) / steps
            t_step = best_time(fn, 1) / steps
            bare_ms.append(t_bare * 1e3)
            per_step_ms[name].append(t_step * 1e3)
            ratios[name].append(t_step / t_bare)
    rows = []
    for name in candidates:
        r = sorted(ratios[name])
        rows.append((name, statistics.median(per_step_ms[name]), statistics.median(r), r[0], r[-1]))

    # What the form is made of: the bare pass of each ingredient alone, over the eager one.
    variants = {"eager": model, "BatchNorm folded": inference_form(model, memory_format=torch.contiguous_format),
                "channels-last only": copy.deepcopy(model).to(memory_format=torch.channels_last),
                "inference form (both)": form}

    def bare_of(m: torch.nn.Module) -> Callable[[], None]:
        def run() -> None:
            xr = x.clone().requires_grad_(True)
            torch.autograd.grad(F.cross_entropy(m(xr, glances=glances).logits, y, reduction="sum"), xr)
        return run

    parts: dict[str, list[float]] = {k: [] for k in variants}
    for _ in range(args.repeats):
        for k, m in variants.items():
            parts[k].append(best_time(lambda m=m: [bare_of(m)() for _ in range(steps)], 1) / steps)
    eager_s = statistics.median(parts["eager"])

    latency = []
    xb, yb, _ = (t.to(DEVICE) for t in make_batch("test", range(100)))
    pgd20 = AttackConfig(eps=eps, steps=20, target="random", early_stop=False)
    for label, m in (("eager model", model), ("inference form", form)):
        one = best_time(lambda m=m: pgd(m, x[:1], y[:1], pgd20, glances=glances, seed=0), args.repeats)
        hundred = best_time(lambda m=m: pgd(m, xb, yb, pgd20, glances=glances, seed=0), 1)
        latency.append(f"| {label} | {one:.3f} | {hundred:.3f} |")

    machine = torch.cuda.get_device_name(DEVICE) if DEVICE.type == "cuda" else ""
    lines = [f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores{', ' if machine else ''}"
             f"{machine}, "
             f"{torch.get_num_threads()} torch threads, torch {torch.__version__}; model: shipped "
             f"default S3TA at {glances} glances; batch {args.batch}, {steps} steps, L-inf 8/255, "
             f"{args.repeats} interleaved repeats.",
             "", f"Bare eager forward+backward (median): {statistics.median(bare_ms):.1f} ms", "",
             "| attack | ms per step | per step / bare eager fwd+bwd (median) | min | max |",
             "|---|---:|---:|---:|---:|"]
    lines += [f"| {n} | {ms:.1f} | {r:.3f} | {lo:.3f} | {hi:.3f} |" for n, ms, r, lo, hi in rows]
    lines += [""] + [f"Not measured: {m}" for m in missing] + notes
    lines += ["", "| bare forward + input-gradient backward | ms | / eager |", "|---|---:|---:|"]
    lines += [f"| {k} | {statistics.median(v) * 1e3:.1f} | {statistics.median(v) / eager_s:.2f} |"
              for k, v in parts.items()]
    lines += ["", "| PGD-20 latency (ours, random target, no early stop) | 1 image, s | 100-image batch, s |",
              "|---|---:|---:|", *latency]
    emit(lines, args.md)


if __name__ == "__main__":
    main()
