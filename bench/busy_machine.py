"""What OpenMP's waiting policy costs an attack on a quiet machine and saves on a busy one.

The attack of the glance grid (PGD-50 at 32/255 on one gallery canvas, glance counts 1 to 16 side
by side, no early stop) timed in a fresh process with torch's 2 threads under OpenMP's default
wait (idle threads spin a while), ``OMP_WAIT_POLICY=PASSIVE`` (they sleep at once), a short spin
(``GOMP_SPINCOUNT``), and with one thread; first alone and then beside two busy processes that
each keep a core at 100% (as other sessions, a training run or a second app would).

    python -m bench.busy_machine --repeats 3 --md bench/busy_machine.md
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import statistics
import subprocess
import sys
import time

from bench.report import emit

ATTACK = """
import time, torch
from compute.images import load_samples
from compute.runs import run_attacks
from model import AttackConfig, load_model
from model.inference_form import inference_form
import os
torch.set_num_threads(int(os.environ.get("BENCH_THREADS", "2")))
model = inference_form(load_model())
sample = load_samples()[0]
cfg = AttackConfig(eps=32 / 255, steps=50, step_size=2 / 255, early_stop=False)
counts = [1, 2, 4, 8, 16]
run_attacks(model, [sample.image] * 5, [sample.label] * 5, counts, cfg, seed=0)  # warm up
t = time.perf_counter()
run_attacks(model, [sample.image] * 5, [sample.label] * 5, counts, cfg, seed=1)
print(time.perf_counter() - t)
"""


def spin(stop: float) -> None:
    x = 0
    while time.time() < stop:
        x += 1


# how OpenMP's threads wait for work: what each setting adds to the environment
POLICIES = {"default (idle threads spin a while, then sleep)": {},
            "PASSIVE (idle threads sleep at once)": {"OMP_WAIT_POLICY": "PASSIVE"},
            "GOMP_SPINCOUNT=10000 (spin briefly, then sleep)": {"GOMP_SPINCOUNT": "10000"},
            "GOMP_SPINCOUNT=1000": {"GOMP_SPINCOUNT": "1000"},
            "GOMP_SPINCOUNT=100": {"GOMP_SPINCOUNT": "100"},
            "one thread (torch.set_num_threads(1))": {"BENCH_THREADS": "1"}}


def attack_seconds(policy: dict[str, str]) -> float:
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "BENCH_THREADS")}
    env.update(policy)
    out = subprocess.run([sys.executable, "-c", ATTACK], env=env, capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--md", default=None)
    args = ap.parse_args()
    times: dict[tuple[str, str], list[float]] = {}
    load = os.getloadavg()[0]
    for machine in ("quiet", "busy (2 spinning processes)"):
        hogs = []
        if machine != "quiet":
            hogs = [mp.Process(target=spin, args=(time.time() + 3600,), daemon=True) for _ in range(2)]
            for h in hogs:
                h.start()
        try:
            for _ in range(args.repeats):
                for name, policy in POLICIES.items():  # interleaved, so drift in the machine hits all
                    times.setdefault((machine, name), []).append(attack_seconds(policy))
        finally:
            for h in hogs:
                h.terminate()
    lines = ["| machine | how idle threads wait | median s | min | max |", "|---|---|---:|---:|---:|"]
    for (machine, policy), v in times.items():
        lines.append(f"| {machine} | {policy} | {statistics.median(v):.2f} | {min(v):.2f} | {max(v):.2f} |")
    lines += ["", f"{args.repeats} repeats, interleaved; torch threads 2 unless said; {os.cpu_count()} CPU cores; "
              f"load average before the run: {load:.2f}."]
    emit(lines, args.md)


if __name__ == "__main__":
    main()
