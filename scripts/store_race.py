"""Store the rows of an existing robustness grid in the checkpoints it measured (metrics.race),
without recomputing them: each checkpoint gets the rows whose ``model`` is its file stem.

    python -m scripts.store_race studies/shipped_evaluation/results/results.json \
        studies/shipped_evaluation/results_untargeted/results.json

New grids do this themselves: ``python -m programs.evaluate grid ... --write-metadata``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from model.checkpoint import store_metrics
from programs.evaluate.report import race_record

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("results", type=Path, nargs="+", help="results.json files written by programs.evaluate grid")
    p.add_argument("--folder", type=Path, default=ROOT / "assets", help="where the checkpoints are")
    args = p.parse_args()
    grids = [json.loads(path.read_text()) for path in args.results]
    every = [r for g in grids for r in g["rows"]]
    command = " ; ".join(g["command"] for g in grids)
    for name in sorted({r["model"] for r in every}):
        path = args.folder / f"{name}.safetensors"
        rows = [r for r in every if r["model"] == name]
        store_metrics(path, "race", race_record(rows, command))
        print(f"{path}: {len(rows)} rows")


if __name__ == "__main__":
    main()
