"""One race figure (accuracy against PGD steps, a line per model and glance count) from several
curve results, for curves run as separate processes.

    python -m studies.final_split.race studies/final_split/curve_default_g1/results.json \\
        studies/final_split/curve_default_g8/results.json studies/final_split/curve_baseline_default/results.json \\
        --out studies/final_split/race_default_16.html
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from viz.figures import race_figure


def pgd_rows(results: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], float, str]:
    """The PGD rows of every curve, their epsilon and target (the same in all, else an exit)."""
    settings = {(r["eps_255"], r["pgd"]["target"], json.dumps(r["canvases"], sort_keys=True)) for r in results}
    if len(settings) != 1:
        raise SystemExit(f"these curves differ in epsilon, target or canvases: {sorted(settings)}")
    eps, target, _ = settings.pop()
    rows = [row for r in results for row in r["rows"] if row["attack"].startswith("PGD")]
    return rows, eps, target


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("results", type=Path, nargs="+", help="curve results.json files")
    p.add_argument("--out", type=Path, required=True, help="the HTML figure to write")
    args = p.parse_args()
    rows, eps, target = pgd_rows([json.loads(path.read_text()) for path in args.results])
    race_figure(rows, eps, target).write_html(args.out, include_plotlyjs="cdn")


if __name__ == "__main__":
    main()
