"""Longer fuzz of the upload path (``compute.images.prepare_image``) than the test suite runs:
random byte edits and truncations of valid files of every format in the hostile corpus, plus
pure random bytes. Every input must give a usable image or an ``ImageError``; anything else is
a failure, printed with the input's recipe.

    python -m bench.fuzz_uploads --n 20000 --md bench/fuzz_uploads.md
"""

from __future__ import annotations

import argparse
import random
import sys
import time
import traceback
from pathlib import Path

import numpy as np

from bench.report import emit
from compute.images import ImageError, prepare_image
from tests.hostile import corpus

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=20000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--md", default=None)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    seeds = {k: v for k, (v, exp) in corpus().items() if exp == "ok" and len(v) < 200_000}
    counts = {"usable image": 0, "ImageError": 0, "other exception": 0}
    failures, slowest, t0 = [], (0.0, ""), time.perf_counter()
    for i in range(args.n):
        name = rng.choice(list(seeds) + ["random"])
        base = seeds.get(name) or bytes(rng.randrange(256) for _ in range(rng.randrange(1, 4000)))
        blob = bytearray(base[: rng.randrange(1, len(base) + 1)] if rng.random() < 0.5 else base)
        for _ in range(rng.randrange(0, 12)):
            blob[rng.randrange(len(blob))] = rng.randrange(256)
        t = time.perf_counter()
        try:
            p = prepare_image(bytes(blob), 96)
            assert p.image.shape == (96, 96, 3) and np.isfinite(p.image).all()
            counts["usable image"] += 1
        except ImageError:
            counts["ImageError"] += 1
        except Exception:  # noqa: BLE001 - the point is to catch anything else
            counts["other exception"] += 1
            failures.append(f"{i} from {name}: {traceback.format_exc(limit=2)}")
        dt = time.perf_counter() - t
        slowest = max(slowest, (dt, name))
    lines = [f"{args.n} fuzzed inputs (seed {args.seed}) in {time.perf_counter() - t0:.0f} s; slowest "
             f"{slowest[0] * 1000:.0f} ms (from {slowest[1]})", "", "| outcome | count |", "|---|---:|"]
    lines += [f"| {k} | {v} |" for k, v in counts.items()]
    emit(lines, args.md)
    for f in failures[:20]:
        print(f, file=sys.stderr)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
