"""Goal 2's second half (issue 11) for any checkpoints: the app's default attack
(``compute.runs.DEFAULT_ATTACK``: 32/255, 50 steps of 2/255, random wrong target, early stop; seed 0) on the
first gallery sample, as the app runs it; does it succeed, and how much of the last glance's
attention (head-averaged) leaves the item's box?

    python -m studies.attention_pull.first_sample assets/s3ta_default.safetensors
    # until session 9:
    python -m studies.attention_pull.first_sample assets/s3ta_default.safetensors --steps 20 --step-size auto
    python -m studies.attention_pull.first_sample assets/s3ta_default.safetensors --step-size auto  # until session 10
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path

import torch

from compute.catalog import open_checkpoint
from compute.images import load_samples
from compute.runs import DEFAULT_ATTACK, pull_readout, run_attack, step_size_from_255
from model.inference import predict


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("checkpoints", type=Path, nargs="+")
    p.add_argument("--steps", type=int, default=DEFAULT_ATTACK.steps, help="attack steps (default: the app's)")
    p.add_argument("--step-size", type=step_size_from_255, default=DEFAULT_ATTACK.step_size,
                   help="L-inf step in /255, or 'auto' for the protocol's max(1/255, eps/steps) (default: the app's)")
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    sample = load_samples()[0]
    cfg = replace(DEFAULT_ATTACK, steps=args.steps, step_size=args.step_size)
    print(f"first gallery sample: {sample.name}, label {sample.label}, box {sample.box}")
    for path in args.checkpoints:
        model = open_checkpoint(path)
        glances = model.default_glances
        run = run_attack(model, sample.image, sample.label, glances, cfg, seed=0)
        pull = pull_readout(predict(model, sample.image, glances), run, sample.image.shape[:2], sample.box)
        masses = [float(pull["mass_clean"][-1]), float(pull["mass_adv"][-1])]  # the last glance, as the app reads it
        print(f"{path}: attack {'succeeds' if run.success else 'fails'} (target {run.target}); last-glance mass "
              f"in the box {masses[0]:.3f} -> {masses[1]:.3f} (fall {masses[0] - masses[1]:.3f})")


if __name__ == "__main__":
    main()
