"""Success and attention pull of the app's default attack at several step sizes (issue 11, goal 2).

The attack is ``compute.runs.DEFAULT_ATTACK`` (L-inf 32/255, 50 steps, random wrong target, early stop)
with only its step size changed; every candidate aims at the same targets (same seeds) on the same
test canvases, so the rows differ by the step size alone.

    python -m studies.attention_pull.step_size --start 5000 --n 500 --step-sizes 1 2 4 --json out.json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from compute.runs import DEFAULT_ATTACK
from model import load_model, pgd
from model.data import make_batch
from programs.evaluate.measure import attention_on_item

ROOT = Path(__file__).resolve().parent.parent.parent


def study(model: torch.nn.Module, start: int, n: int, step_sizes_255: list[float], batch_size: int = 100,
          seed: int = 0) -> list[dict]:
    """One row per step size: targeted success and the mean drop of attention on the item where it succeeds."""
    glances = model.glances_for(None)
    success = {s: [] for s in step_sizes_255}
    drops = {s: [] for s in step_sizes_255}
    seconds = {s: 0.0 for s in step_sizes_255}
    for b, lo in enumerate(range(start, start + n, batch_size)):
        x, y, boxes = make_batch("test", range(lo, min(start + n, lo + batch_size)), seed=seed)
        with torch.no_grad():
            clean = attention_on_item(model(x, glances=glances).attention, boxes)
        for s in step_sizes_255:
            t0 = time.perf_counter()
            res = pgd(model, x, y, replace(DEFAULT_ATTACK, step_size=s / 255), glances=glances, seed=1000 + b)
            seconds[s] += time.perf_counter() - t0
            with torch.no_grad():
                adv = attention_on_item(model(res.images, glances=glances).attention, boxes)
            ok = res.success.numpy()
            success[s].append(ok)
            drops[s].append((clean - adv)[ok])
    rows = []
    for s in step_sizes_255:
        ok, d = np.concatenate(success[s]), np.concatenate(drops[s])
        rows.append({"step_size_255": s, "n": n, "success": float(ok.mean()),
                     "attention_drop_successful": float(d.mean()) if d.size else float("nan"),
                     "seconds": round(seconds[s], 1)})
    return rows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--checkpoint", default=str(ROOT / "assets" / "s3ta_default.safetensors"))
    p.add_argument("--start", type=int, default=0, help="first test canvas")
    p.add_argument("--n", type=int, default=500)
    p.add_argument("--step-sizes", type=float, nargs="+", default=[1, 2, 4], help="/255")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--json", type=Path, default=None)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    model = load_model(args.checkpoint)
    rows = study(model, args.start, args.n, args.step_sizes)
    for r in rows:
        print(f"step {r['step_size_255']:g}/255: success {r['success']:.3f}, attention drop where it succeeds "
              f"{r['attention_drop_successful']:.3f} ({r['seconds']} s)")
    if args.json:
        args.json.write_text(json.dumps({"command": "python " + " ".join(sys.argv), "attack": repr(DEFAULT_ATTACK),
                                         "checkpoint": args.checkpoint, "rows": rows}, indent=1) + "\n")


if __name__ == "__main__":
    main()
