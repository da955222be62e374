"""The shipped sample gallery in ``assets/samples`` (test canvases with their item boxes)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

__all__ = ["Sample", "load_samples", "SAMPLES_DIR"]

SAMPLES_DIR = Path(__file__).resolve().parent.parent / "assets" / "samples"


@dataclass(frozen=True)
class Sample:
    name: str
    image: np.ndarray  # (H, W, 3) float32 in [0, 1]
    label: int
    class_name: str
    box: tuple[int, int, int, int]  # (x0, y0, x1, y1), half-open, pixels


def load_samples(folder: Path = SAMPLES_DIR) -> list[Sample]:
    """Samples listed in ``samples.json``, in its order."""
    index = json.loads((folder / "samples.json").read_text())
    out = []
    for s in index["samples"]:
        with Image.open(folder / s["file"]) as im:
            image = np.asarray(im.convert("RGB"), dtype=np.float32) / 255.0
        out.append(Sample(s["file"], image, int(s["label"]), s["class_name"], tuple(s["box"])))
    return out
