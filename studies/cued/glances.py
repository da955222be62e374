"""Where each glance looks on a cued task: accuracy per glance and attention mass on the cue,
the named item and the two distractors (clean test canvases, head-averaged maps).

    python -m studies.cued.glances runs/cued_narrow_g8_clean2/model.safetensors --n 500 --glances 8

A model that reads the cue first and then the item of its colour shows mass on the cue at
glance 1 and on the named item (not the distractors) afterwards; a model that cannot use the
cue splits its mass between the three items and is right about a third of the time.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch

from model.checkpoint import load_checkpoint
from model.data import CANVAS, load_fashion_mnist
from model.data.cued import CUE_STYLES, CUED_TASKS, cued_scene
from model.metrics import box_mass


def per_glance(path: Path, n: int, glances: int, seed: int = 0) -> dict[str, list[float]]:
    """Accuracy and mean attention mass (cue, named item, distractors) at glances 1..``glances``."""
    model, meta, _ = load_checkpoint(path)
    if meta.get("task") not in CUED_TASKS:
        raise SystemExit(f"{path} was trained on {meta.get('task')!r}, not a cued task")
    style = CUED_TASKS[meta["task"]]
    images, labels = load_fashion_mnist("test")
    scenes = [cued_scene(images, labels, "test", i, seed, style) for i in range(n)]
    x = torch.stack([torch.from_numpy(c.image).permute(2, 0, 1) for c, _ in scenes])
    y = torch.tensor([c.label for c, _ in scenes])
    with torch.no_grad():
        out = model(x, glances=glances)
    attention = out.attention.mean(dim=2).numpy()  # (B, N, h, w): heads averaged
    size = (CANVAS, CANVAS)
    cue = np.tile(CUE_STYLES[style].cue, (n, 1))
    item = np.array([c.box for c, _ in scenes])
    distractors = np.array([lay.squares()[:-1] for _, lay in scenes])  # (B, 2, 4): the distractors' squares
    result: dict[str, list[float]] = {"accuracy": [], "cue": [], "item": [], "distractors": []}
    for t in range(out.step_logits.shape[1]):
        maps = attention[:, t]
        result["accuracy"].append(float((out.step_logits[:, t].argmax(1) == y).float().mean()))
        result["cue"].append(float(box_mass(maps, cue, size).mean()))
        result["item"].append(float(box_mass(maps, item, size).mean()))
        on_distractors = box_mass(np.repeat(maps[:, None], 2, axis=1), distractors, size).sum(axis=1)
        result["distractors"].append(float(on_distractors.mean()))
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("checkpoints", type=Path, nargs="+")
    ap.add_argument("--n", type=int, default=500)
    ap.add_argument("--glances", type=int, default=8)
    ap.add_argument("--json", type=Path, help="also write the numbers here")
    args = ap.parse_args()
    torch.set_num_threads(1)
    table = {}
    print("| model | glance | accuracy | mass on cue | on named item | on distractors |")
    print("|---|---:|---:|---:|---:|---:|")
    for path in args.checkpoints:
        name = path.parent.name if path.stem == "model" else path.stem
        table[name] = r = per_glance(path, args.n, args.glances)
        for t in range(len(r["accuracy"])):
            print(f"| {name} | {t + 1} | {r['accuracy'][t]:.3f} | {r['cue'][t]:.2f} | {r['item'][t]:.2f} | "
                  f"{r['distractors'][t]:.2f} |")
    if args.json:
        args.json.write_text(json.dumps({"n": args.n, "models": table}, indent=1) + "\n")


if __name__ == "__main__":
    main()
