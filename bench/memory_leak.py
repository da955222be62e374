"""Memory over many attack runs: resident set size (RSS) after every block of runs, through the
app's shared ``Lab`` (results cached, bounded by bytes) and through the bare ``run_attack``.
Flat RSS once the cache is full means no leak.

    python -m bench.memory_leak --runs 200 --md bench/memory_leak.md
"""

from __future__ import annotations

import argparse
import gc
from pathlib import Path

from bench.report import emit
from compute.images import load_samples
from compute.lab import Lab, Subject
from compute.runs import run_attack
from model import AttackConfig, load_model
from viz.frames import Display

ROOT = Path(__file__).resolve().parent.parent


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=200)
    ap.add_argument("--cache-mb", type=int, default=64)
    ap.add_argument("--md", default=None)
    args = ap.parse_args()
    model, samples = load_model(), load_samples()
    lab = Lab(max_bytes=args.cache_mb * 2**20)
    block = max(args.runs // 8, 1)
    rows = {"bare run_attack": [], "Lab (cached, exports every 10th)": []}
    for name in rows:
        gc.collect()
        rows[name].append((0, rss_mb()))
        for i in range(args.runs):
            s = samples[i % len(samples)]
            cfg = AttackConfig(eps=16 / 255, steps=20, early_stop=False)
            if name.startswith("bare"):
                run_attack(model, s.image, s.label, 4, cfg, seed=i)
            else:
                subject = Subject(model, "default", s.image, s.name, s.name, s.label, s.box, 4)
                run = lab.attack(subject, cfg, seed=i)  # a new seed: never a cache hit
                lab.attributions(subject, run)
                if i % 10 == 0:
                    lab.exports(subject, run, Display(), {"name": "default"}, formats=("gif", "npz"))
            if (i + 1) % block == 0:
                gc.collect()
                rows[name].append((i + 1, rss_mb()))
    lines = [f"RSS in MB after n attack runs (PGD-20, 16/255, 4 glances, a new seed each run; "
             f"Lab cache limit {args.cache_mb} MB)", "",
             "| runs | " + " | ".join(rows) + " |", "|---:|" + "---:|" * len(rows)]
    for j in range(len(rows["bare run_attack"])):
        cells = " | ".join(f"{v[j][1]:.0f}" for v in rows.values())
        lines.append(f"| {rows['bare run_attack'][j][0]} | {cells} |")
    for name, pts in rows.items():
        half = pts[len(pts) // 2][1]
        lines.append(f"\n{name}: {pts[-1][1] - half:+.1f} MB over the second half of the runs "
                     f"(cache held {lab.results.bytes / 2**20:.0f} MB in {len(lab.results)} results)"
                     if name.startswith("Lab") else f"\n{name}: {pts[-1][1] - half:+.1f} MB over the second half")
    emit(lines, args.md)


if __name__ == "__main__":
    main()
