"""The seeds study's table: each model's accuracy per training seed, and each comparison per seed
(paired over canvases) and over seeds (mean with its t interval), read from the stored results of
``run.sh`` (``studies/seeds/RULE.md`` says how they are read).

    python -m studies.seeds.table studies/seeds/results narrow > studies/seeds/narrow.md

Inputs in the results folder, for a family whose checkpoints are named ``{prefix}{kind}_s{seed}``:
``{family}_{kind}_s{seed}/results.json`` (``s3ta-evaluate curve`` of one model: per-canvas
outcomes under attack) and ``{family}_clean_{a}_{b}.json`` (``s3ta-evaluate compare`` with
``--eps 0 --steps 0``: the clean comparison per seed).
"""

from __future__ import annotations

import argparse
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from programs.evaluate.outcomes import from_bits
from programs.evaluate.paired import paired, seed_summary

__all__ = ["FAMILIES", "KINDS", "COMPARISONS", "Comparison", "outcomes", "compare", "clean", "table"]

FAMILIES = {"narrow": "", "local": "l"}  # family -> checkpoint name prefix
KINDS = {"g1": "S3TA-1", "g8": "S3TA-8", "base": "baseline"}
COMPARISONS = (("g1", "g8"), ("base", "g1"), ("base", "g8"))  # (A, B): B - A
NAME = re.compile(r"^(?P<prefix>l?)(?P<kind>g1|g8|base)_s(?P<seed>\d+)@\d+/(?P<attack>.+)$")


@dataclass(frozen=True)
class Comparison:
    """B - A under one attack: one paired record per seed (seed order) and the summary over seeds."""

    a: str
    b: str
    attack: str
    seeds: tuple[int, ...]
    per_seed: tuple[dict[str, Any], ...]
    over: dict[str, Any]

    @property
    def replicates(self) -> bool:
        """Every seed's paired interval excludes 0 on the same side."""
        return (all(r["diff_lo"] > 0 for r in self.per_seed) or all(r["diff_hi"] < 0 for r in self.per_seed))

    @property
    def beats_every_seed(self) -> bool:
        """B above A with McNemar's p < 0.01 in every seed (the bar for shipping a race)."""
        return all(r["diff"] > 0 and r["p_mcnemar"] < 0.01 for r in self.per_seed)


def outcomes(curves: list[dict[str, Any]], prefix: str) -> dict[tuple[str, int, str], np.ndarray]:
    """(kind, seed, attack) -> per-canvas correctness, from curve results of one family that read
    the same canvases (refused otherwise: their outcomes would not pair)."""
    seen = {json.dumps(c["canvases"], sort_keys=True) + f"/{c['eps_255']}" for c in curves}
    if len(seen) > 1:
        raise SystemExit(f"these curves read different canvases or epsilons and do not pair: {sorted(seen)}")
    out = {}
    for c in curves:
        for key, bits in c["per_canvas"].items():
            m = NAME.match(key)
            if m is None or m["prefix"] != prefix:
                continue
            out[(m["kind"], int(m["seed"]), m["attack"])] = from_bits(bits)
    return out


def compare(bits: dict[tuple[str, int, str], np.ndarray], a: str, b: str, attack: str) -> Comparison:
    """B - A under ``attack`` for every seed both kinds have, paired canvas by canvas."""
    seeds = tuple(sorted({s for k, s, at in bits if k == a and at == attack}
                         & {s for k, s, at in bits if k == b and at == attack}))
    if not seeds:
        raise KeyError(f"no seed has both {a} and {b} under {attack}")
    rows = tuple(paired(bits[(a, s, attack)], bits[(b, s, attack)], seed=s).as_dict() for s in seeds)
    return Comparison(a, b, attack, seeds, rows, seed_summary([r["diff"] for r in rows]).as_dict())


def clean(result: dict[str, Any], prefix: str) -> Comparison:
    """A ``compare --eps 0 --steps 0`` result as a Comparison (its pairs are seed by seed)."""
    def kind_seed(path: str) -> tuple[str, int]:
        m = NAME.match(Path(path).stem + "@0/clean")
        if m is None or m["prefix"] != prefix:
            family = next(f for f, pre in FAMILIES.items() if pre == prefix)
            raise ValueError(f"{path} is not a {family} seeds checkpoint")
        return m["kind"], int(m["seed"])

    rows = result["pairs"]
    (a, _), (b, _) = kind_seed(rows[0]["a"]), kind_seed(rows[0]["b"])
    seeds = tuple(kind_seed(r["a"])[1] for r in rows)
    if any(kind_seed(r["a"]) != (a, s) or kind_seed(r["b"]) != (b, s) for r, s in zip(rows, seeds)):
        raise ValueError("a clean comparison must pair the two kinds seed by seed")
    keep = ("n", "acc_a", "acc_b", "diff", "diff_lo", "diff_hi", "only_a", "only_b", "p_mcnemar")
    per_seed = tuple({k: r[k] for k in keep} for r in rows)
    return Comparison(a, b, "clean", seeds, per_seed, seed_summary([r["diff"] for r in per_seed]).as_dict())


def _mean_sd(values: list[float]) -> str:
    sd = f" ± {np.std(values, ddof=1):.3f}" if len(values) > 1 else ""
    return f"{np.mean(values):.3f}{sd}"


def _over(c: Comparison) -> str:
    o = c.over
    return f"{o['mean']:+.3f}" + (f" [{o['lo']:+.3f}, {o['hi']:+.3f}], sd {o['sd']:.3f}" if o["lo"] is not None else "")


def table(comparisons: list[Comparison], family: str) -> str:
    """Markdown: accuracy per kind and seed, then every comparison seed by seed and over seeds."""
    acc: dict[tuple[str, str], dict[int, float]] = {}
    for c in comparisons:
        for s, r in zip(c.seeds, c.per_seed):
            acc.setdefault((c.a, c.attack), {})[s] = r["acc_a"]
            acc.setdefault((c.b, c.attack), {})[s] = r["acc_b"]
    attacks = list(dict.fromkeys(c.attack for c in comparisons))
    seeds = sorted({s for c in comparisons for s in c.seeds})
    n = {c.attack: c.per_seed[0]["n"] for c in comparisons}
    out = [f"### The {family} family: accuracy per training seed (final canvases)", "",
           "| model | " + " | ".join(f"{at} (n {n[at]}): " + " / ".join(f"s{s}" for s in seeds) + " | mean ± sd"
                                      for at in attacks) + " |",
           "|---|" + "---|---|" * len(attacks)]
    for kind, label in KINDS.items():
        if not any((kind, at) in acc for at in attacks):
            continue
        cells = []
        for at in attacks:
            got = acc.get((kind, at), {})
            cells += [" / ".join(f"{got[s]:.3f}" if s in got else "-" for s in seeds),
                      _mean_sd(list(got.values())) if got else "-"]
        out.append(f"| {label} | " + " | ".join(cells) + " |")
    out += ["", f"### The {family} family: comparisons, paired per seed, and over seeds", "",
            "| B - A | attack | per seed: B - A [paired 95%], McNemar p | over seeds: mean [t 95%], sd "
            "| replicates | B > A, p < 0.01 every seed |", "|---|---|---|---|---|---|"]
    for c in comparisons:
        per = "; ".join(f"s{s} {r['diff']:+.3f} [{r['diff_lo']:+.3f}, {r['diff_hi']:+.3f}], p {r['p_mcnemar']:.2g}"
                        for s, r in zip(c.seeds, c.per_seed))
        out.append(f"| {KINDS[c.b]} - {KINDS[c.a]} | {c.attack} | {per} | {_over(c)} | "
                   f"{'yes' if c.replicates else 'no'} | {'yes' if c.beats_every_seed else 'no'} |")
    return "\n".join(out) + "\n"


def family_comparisons(results: Path, family: str) -> list[Comparison]:
    """Every comparison of a family from the results folder: clean first, then each attack."""
    prefix = FAMILIES[family]
    found = []
    for a, b in COMPARISONS:
        path = results / f"{family}_clean_{a}_{b}.json"
        if path.exists():
            found.append(clean(json.loads(path.read_text()), prefix))
    curves = [json.loads(p.read_text()) for p in sorted(results.glob(f"{family}_*/results.json"))]
    bits = outcomes(curves, prefix)
    for attack in dict.fromkeys(at for _, _, at in bits):
        for a, b in COMPARISONS:
            try:
                found.append(compare(bits, a, b, attack))
            except KeyError:
                continue
    return found


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("results", type=Path, help="the folder run.sh wrote")
    p.add_argument("family", choices=sorted(FAMILIES))
    args = p.parse_args()
    print(table(family_comparisons(args.results, args.family), args.family), end="")


if __name__ == "__main__":
    main()
