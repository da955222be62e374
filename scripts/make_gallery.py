"""Write a canvas task's sample gallery: the first test canvas of each class (seed 0), as PNG files
and the ``samples.json`` index the app reads (``compute.images.load_samples``).

    python -m scripts.make_gallery --task cluttered-fashion-mnist --out assets/samples
    python -m scripts.make_gallery --task cued-fashion-mnist      # -> assets/samples/cued-fashion-mnist

The default task's gallery lives in ``assets/samples`` itself; every other task's in a folder of
that name inside it (``compute.images.gallery_dir``).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from PIL import Image

from compute.images import gallery_folder
from model.data import CANVAS_TASKS, CLASS_NAMES, ClutteredFashionMNIST, load_fashion_mnist

NOTES = {"cluttered-fashion-mnist": "Cluttered Fashion-MNIST test canvases",
         "cued-fashion-mnist": "Cued Fashion-MNIST test canvases (the corner square's colour names the item)",
         "cued-strip-fashion-mnist": "Cued Fashion-MNIST test canvases (the left strip's colour names the item)"}


def first_of_each_class(labels: np.ndarray) -> list[int]:
    """The first test index of each class, in class order (canvas i names test image i)."""
    return [int(np.flatnonzero(labels == c)[0]) for c in range(len(CLASS_NAMES))]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--task", choices=sorted(CANVAS_TASKS), required=True)
    ap.add_argument("--out", type=Path, help="default: the task's gallery folder")
    args = ap.parse_args()
    out = args.out or gallery_folder(args.task)
    out.mkdir(parents=True, exist_ok=True)
    _, labels = load_fashion_mnist("test")
    canvases = ClutteredFashionMNIST("test", seed=0, task=args.task)
    entries = []
    for index in first_of_each_class(labels):
        image, label, box = canvases[index]
        name = f"test_{index:04d}.png"
        pixels = (image.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
        Image.fromarray(pixels).save(out / name)
        entries.append({"file": name, "split": "test", "index": index, "seed": 0, "label": int(label),
                        "class_name": CLASS_NAMES[int(label)], "box": [int(v) for v in box]})
    note = (f"{NOTES.get(args.task, args.task)} (split, index, seed), task {args.task}; "
            "box = item box (x0, y0, x1, y1), half-open, pixels")
    index = {"note": note, "task": args.task, "samples": entries}
    (out / "samples.json").write_text(json.dumps(index, indent=1) + "\n")
    print(f"{len(entries)} canvases of {args.task} in {out}")


if __name__ == "__main__":
    main()
