"""A race table with 95% confidence intervals from a robustness grid's results.json.

    python -m scripts.race_table studies/ablation/race_narrow/results.json --eps 16 --steps 50

One row per (model, glances): accuracy at 0 steps (PGD's random start alone: uniform noise in
the epsilon ball, within about 0.01 of clean accuracy for the models here), robust accuracy under the attack (Wilson 95%
interval, n canvases), and the drop of the glance-averaged attention mass on the item.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path


def wilson(p: float, n: int, z: float = 1.96) -> tuple[float, float]:
    """95% Wilson score interval of a proportion ``p`` measured on ``n`` examples."""
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return centre - half, centre + half


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("results", type=Path)
    ap.add_argument("--eps", type=float, required=True, help="in /255 units")
    ap.add_argument("--steps", type=int, required=True)
    ap.add_argument("--target", default="random")
    args = ap.parse_args()
    rows = json.loads(args.results.read_text())["rows"]
    pick = [r for r in rows if r["eps_255"] == args.eps and r["target"] == args.target]
    print(f"| model | glances | 0 steps (random start) | robust (PGD-{args.steps}, {args.eps:g}/255) | 95% interval | "
          "attention on item, clean -> adversarial |")
    print("|---|---:|---:|---:|---|---|")
    for model, glances in dict.fromkeys((r["model"], r["glances"]) for r in pick):
        cells = {r["steps"]: r for r in pick if r["model"] == model and r["glances"] == glances}
        clean, attacked = cells[0], cells[args.steps]
        lo, hi = wilson(attacked["acc"], attacked["n"])
        print(f"| {model} | {glances} | {clean['acc']:.3f} | {attacked['acc']:.3f} | [{lo:.3f}, {hi:.3f}] | "
              f"{attacked['attention_on_item_clean']:.2f} -> {attacked['attention_on_item_adv']:.2f} |")


if __name__ == "__main__":
    main()
