"""Issue 11's ablation table: one row per variant, read from the stored robustness grids.

    python -m studies.ablation.table studies/ablation/variants.json > studies/ablation/TABLE.md

Each variant of the manifest names a grid (``results.json``), the model's name in it and the
glance count it is read at (the count it was trained for, or the app's default 4 for models
trained at random counts). Columns: accuracy at PGD's random start (0 steps) and under PGD-50
towards random targets at 16/255, at 1 / 4 / 8 glances where the grid has them; the 95% Wilson
interval at the count read; the glance-averaged attention mass on the item there, clean ->
adversarial (all canvases); training time (summed over a kept checkpoint's stages, or as the
manifest records it for runs that were not kept).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from scripts.checkpoint_report import chain
from scripts.race_table import wilson

ROOT = Path(__file__).resolve().parent.parent.parent
# where the checkpoints a kept checkpoint's stages started from are kept (scripts.checkpoint_report --history)
HISTORY = [ROOT / "studies" / "shipped_history", ROOT / "studies" / "judge"]
GLANCES = (1, 4, 8)
EPS, STEPS = 16.0, 50


def cells(grid: Path, model: str) -> dict[tuple[int, int], dict[str, Any]]:
    """(glances, steps) -> row of ``model`` at 16/255 towards random targets."""
    rows = json.loads((ROOT / grid).read_text())["rows"]
    found = {(r["glances"], r["steps"]): r for r in rows
             if r["model"] == model and r["eps_255"] == EPS and r["target"] == "random"}
    if not found:
        raise KeyError(f"{grid}: no rows of {model!r} at {EPS:g}/255")
    return found


def training_minutes(variant: dict[str, Any]) -> str:
    """From a kept checkpoint's stages (their recorded wall time), else the manifest's text."""
    if "checkpoint" not in variant:
        return variant["training"]
    from model import read_metadata
    stages = chain(read_metadata(ROOT / variant["checkpoint"]), HISTORY)
    minutes = sum(s.get("wall_time_s") or 0 for s in stages) / 60
    return f"{minutes:.0f} min, {len(stages)} stages"


def row(variant: dict[str, Any]) -> str:
    c = cells(Path(variant["grid"]), variant["model"])
    read_at = variant["read_at"]

    def at(steps: int) -> str:
        return " / ".join(f"{c[(g, steps)]['acc']:.3f}" if (g, steps) in c else "-" for g in GLANCES)

    own = c[(read_at, STEPS)]
    lo, hi = wilson(own["acc"], own["n"])
    attention = f"{own['attention_on_item_clean']:.2f} -> {own['attention_on_item_adv']:.2f}"
    return (f"| {variant['name']} | {variant['what']} | {read_at} | {at(0)} | {at(STEPS)} | "
            f"{own['acc']:.3f} [{lo:.3f}, {hi:.3f}] | {attention} | {own['n']} | {training_minutes(variant)} |")


def table(manifest: dict[str, Any]) -> str:
    header = ("| variant | what changed | read at | random start at 1 / 4 / 8 | PGD-50 16/255 at 1 / 4 / 8 | "
              "robust at the count read [95%] | attention on item there | canvases | training |")
    out = [manifest["title"], "", manifest["intro"], "", header, "|---|---|---:|---|---|---|---|---:|---|"]
    for group in manifest["groups"]:
        out.append(f"| **{group['name']}** | | | | | | | | |")
        out.extend(row(v) for v in group["variants"])
    return "\n".join(out) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("manifest", type=Path)
    args = ap.parse_args()
    sys.stdout.write(table(json.loads(args.manifest.read_text())))


if __name__ == "__main__":
    main()
