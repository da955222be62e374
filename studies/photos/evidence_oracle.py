"""A reference for the photo head's levers: attention that *is* the teacher's class evidence
map, softmax(W_c . f / tau) over positions, for a class c given from outside.

    python -m studies.photos.evidence_oracle --holdout data/photos/hold --holdout-cutouts data/photos/cutouts_hold

On the held-out sets of ``programs.distill`` (the same views, the same seeds): top-1
agreement with the pretrained network on random crops when c is the network's own class and the
attended vector goes through its classifier, and attention mass in pasted objects' boxes over
the box's share, with c the network's class of the whole scene or of the object alone. No head
is trained: this says how far attention that follows the evidence of a known class can go.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch

from model.efficientnet_lite import load_pretrained
from model.metrics import mean_box_mass
from programs.distill.cli import _views
from programs.distill.evidence import evidence_target
from programs.distill.measure import as_batch, batches
from programs.distill.scenes import Scene, list_images, object_view


@torch.no_grad()
def oracle(holdout: Path, cutouts: Path, views: int, output_stride: int, taus: list[float]) -> list[dict]:
    trunk = load_pretrained(dilate_last=output_stride == 16)
    teacher = load_pretrained()
    photos, objects = list_images(holdout), list_images(cutouts)
    crops = _views(photos, [], views, 1)  # the seeds programs.distill measures with
    scenes = [s for s in _views(photos, objects, views, 2) if s.box is not None]
    agree = {t: 0 for t in taus}
    mass: dict[tuple[str, float], list[np.ndarray]] = {(w, t): [] for w in ("scene", "object") for t in taus}
    shares, same = [], 0
    for chunk in batches(crops, 32):
        x = as_batch(chunk)
        f, c = trunk.features(x), teacher(x).argmax(1)
        for t in taus:
            a = evidence_target(trunk._fc, f, c, t)
            agree[t] += int((trunk._fc(torch.einsum("bhw,bchw->bc", a, f)).argmax(1) == c).sum())
    for chunk in batches(scenes, 32):
        x = as_batch(chunk)
        f = trunk.features(x)
        boxes = np.array([s.box for s in chunk])
        shares.append((boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1]) / (x.shape[-1] * x.shape[-2]))
        classes = {"scene": teacher(x).argmax(1),
                   "object": teacher(as_batch([Scene(object_view(s), None) for s in chunk])).argmax(1)}
        same += int((classes["scene"] == classes["object"]).sum())
        for (which, t), out in mass.items():
            a = evidence_target(trunk._fc, f, classes[which], t)
            out.append(mean_box_mass(a[:, None, None].numpy(), boxes, (x.shape[-2], x.shape[-1])))
    share = float(np.concatenate(shares).mean())
    rows = []
    for t in taus:
        row = {"output_stride": output_stride, "tau": t, "agreement": agree[t] / len(crops), "box_share": share,
               "scene_class_is_object_class": same / len(scenes)}
        for which in ("scene", "object"):
            m = float(np.concatenate(mass[(which, t)]).mean())
            row[f"ratio_{which}_class"] = m / share
        rows.append(row)
    return rows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--holdout", type=Path, required=True)
    p.add_argument("--holdout-cutouts", type=Path, required=True)
    p.add_argument("--views", type=int, default=512)
    p.add_argument("--taus", type=float, nargs="+", default=[4.0, 2.0, 1.0, 0.5])
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--json", type=Path, default=None)
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    rows = [r for s in (16, 32) for r in oracle(args.holdout, args.holdout_cutouts, args.views, s, args.taus)]
    for r in rows:
        print(json.dumps(r), flush=True)
    if args.json:
        args.json.write_text(json.dumps({"command": "python " + " ".join(sys.argv), "rows": rows}, indent=1) + "\n")


if __name__ == "__main__":
    main()
