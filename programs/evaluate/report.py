"""Reports of measured rows: markdown tables, CSV, JSON and the "computational race" figure."""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["grid_markdown", "write_grid", "race_record"]


def grid_markdown(rows: Sequence[dict[str, Any]]) -> str:
    """One table per (target, eps): rows model x glances, columns attack steps (accuracy)."""
    out = []
    for t in dict.fromkeys(r["target"] for r in rows):
        for e in dict.fromkeys(r["eps_255"] for r in rows):
            sub = [r for r in rows if r["target"] == t and r["eps_255"] == e]
            steps = sorted({r["steps"] for r in sub})
            out.append(f"\n**{t} target, eps {e:g}/255** (accuracy; attention on item clean -> at the most steps)\n")
            out.append("| model | glances | " + " | ".join(f"{k} steps" for k in steps) + " | attention on item |")
            out.append("|---|---:|" + "---:|" * len(steps) + "---|")
            for m, g in dict.fromkeys((r["model"], r["glances"]) for r in sub):
                cells = {r["steps"]: r for r in sub if r["model"] == m and r["glances"] == g}
                last = cells[steps[-1]]
                out.append(f"| {m} | {g} | " + " | ".join(f"{cells[k]['acc']:.3f}" for k in steps) +
                           f" | {last['attention_on_item_clean']:.2f} -> {last['attention_on_item_adv']:.2f} |")
    return "\n".join(out) + "\n"


def write_grid(rows: Sequence[dict[str, Any]], out_dir: Path, command: str) -> None:
    """results.md, results.csv, results.json and race_<target>_<eps>.html in ``out_dir``; the
    figures are skipped, with a note, where plotly is missing (a bare training server)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "results.json").write_text(json.dumps({"command": command, "rows": list(rows)}, indent=1) + "\n")
    with open(out_dir / "results.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    (out_dir / "results.md").write_text(f"Command: `{command}`\n" + grid_markdown(rows))
    try:
        from viz.figures import race_figure
    except ModuleNotFoundError as err:
        if (err.name or "").split(".")[0] != "plotly":
            raise
        print(f"race_*.html not written: plotly is not installed (the tables are in {out_dir})", file=sys.stderr)
        return
    for t in dict.fromkeys(r["target"] for r in rows):
        for e in dict.fromkeys(r["eps_255"] for r in rows):
            race_figure(rows, e, t).write_html(out_dir / f"race_{t}_{e:g}.html", include_plotlyjs="cdn")


def race_record(rows: Sequence[dict[str, Any]], command: str) -> dict[str, Any]:
    """What a checkpoint stores of its own grid rows (``metrics.race``), so the app can draw its
    race without recomputing it."""
    keep = ("model", "glances", "target", "eps_255", "steps", "n", "acc", "attack_success",
            "attention_on_item_clean", "attention_on_item_adv")
    return {"command": command, "rows": [{k: r[k] for k in keep if k in r} for r in rows]}
