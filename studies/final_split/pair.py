"""Paired comparisons between the rows of two curve results (``s3ta-evaluate curve``), from the
per-canvas outcomes they keep: two glance counts run as separate processes, or S3TA against its
baseline at every attack of the curve, without attacking again.

    python -m studies.final_split.pair studies/final_split/curve_default_g1/results.json \\
        studies/final_split/curve_default_g8/results.json

Rows are paired only when both runs read the same canvases with the same attack seeds (the same
canvas set, number and batch size: batch b's attack seed follows its index).
"""

from __future__ import annotations

import argparse
import json
import shlex
from pathlib import Path
from typing import Any

from programs.evaluate import get_args_parser
from programs.evaluate.outcomes import from_bits
from programs.evaluate.paired import paired


def batch_size(result: dict[str, Any]) -> int:
    """The batch size a curve ran with, read from its recorded command."""
    argv = shlex.split(result["command"])
    return get_args_parser().parse_args(argv[argv.index("programs.evaluate") + 1:]).batch_size


def pair_rows(a: dict[str, Any], b: dict[str, Any]) -> list[dict[str, Any]]:
    """B - A for every (row of A, row of B) under the same attack, paired over canvases."""
    if a["canvases"] != b["canvases"] or batch_size(a) != batch_size(b) or a["eps_255"] != b["eps_255"]:
        raise SystemExit("these curves did not read the same canvases with the same attack seeds and epsilon: "
                         f"{a['canvases']} (batch {batch_size(a)}) against {b['canvases']} (batch {batch_size(b)})")
    out = []
    for key_a, bits_a in a["per_canvas"].items():
        for key_b, bits_b in b["per_canvas"].items():
            (who_a, attack_a), (who_b, attack_b) = key_a.split("/"), key_b.split("/")
            if attack_a == attack_b and key_a != key_b:
                ca, cb = from_bits(bits_a), from_bits(bits_b)
                out.append({"a": who_a, "b": who_b, "attack": attack_a, **paired(ca, cb).as_dict()})
    return out


def markdown(rows: list[dict[str, Any]]) -> str:
    lines = ["| A | B | attack | acc A | acc B | B - A [paired 95%] | only A right / only B right | McNemar p |",
             "|---|---|---|---:|---:|---|---:|---:|"]
    lines += [f"| {r['a']} | {r['b']} | {r['attack']} | {r['acc_a']:.3f} | {r['acc_b']:.3f} | {r['diff']:+.3f} "
              f"[{r['diff_lo']:+.3f}, {r['diff_hi']:+.3f}] | {r['only_a']} / {r['only_b']} | {r['p_mcnemar']:.3g} |"
              for r in rows]
    return "\n".join(lines) + "\n"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("a", type=Path, help="curve results.json of A")
    p.add_argument("b", type=Path, help="curve results.json of B")
    args = p.parse_args()
    print(markdown(pair_rows(json.loads(args.a.read_text()), json.loads(args.b.read_text()))), end="")


if __name__ == "__main__":
    main()
