"""The natural-photo head's glances on scikit-image's photographs (held out: never trained on).

    python -m scripts.photo_glances --checkpoint assets/photo_attention.safetensors --out docs/photo_glances.jpg

One row per photograph (centre crop, 224 px, prepared as the app prepares an upload): the
attention of each glance (mean over heads) over the photo, captioned with the head's class and
probability after that glance, and the pretrained network's own class for comparison.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
from skimage import data

from compute.catalog import open_checkpoint
from compute.images import prepare_image
from model.efficientnet_lite import load_pretrained
from model.inference import predict
from viz.files import to_jpeg, to_png
from viz.frames import Display, caption, glance_frames

ROOT = Path(__file__).resolve().parent.parent

PHOTOS = ("chelsea", "coffee", "astronaut", "rocket")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--checkpoint", type=Path, default=ROOT / "assets" / "photo_attention.safetensors")
    p.add_argument("--out", type=Path, default=ROOT / "docs" / "photo_glances.jpg")
    p.add_argument("--glances", type=int, default=None)
    args = p.parse_args()
    model = open_checkpoint(args.checkpoint)
    teacher = load_pretrained()
    names = model.metadata["class_names"]
    rows, lines = [], []
    for name in PHOTOS:
        # as the app prepares an upload for this model: centre crop (its input_fit), resized
        image = prepare_image(to_png(getattr(data, name)()), model.config.image_size, "crop").image
        with torch.no_grad():
            pred = predict(model, image, args.glances)
            own = int(teacher(torch.from_numpy(image).permute(2, 0, 1)[None]).argmax(1))
        frames = glance_frames(image, pred.attention, Display(zoom=1, cmap="inferno", alpha=0.55))
        panels = [caption(f, f"glance {t + 1}: {names[int(pred.step_probs[t].argmax())][:22]} "
                             f"{pred.step_probs[t].max():.2f}") for t, f in enumerate(frames)]
        rows.append(caption(np.concatenate(panels, axis=1), f"{name}: the pretrained network says {names[own]}",
                            height=22))
        lines.append(f"- {name}: head {names[int(pred.probs.argmax())]} ({pred.probs.max():.2f}), "
                     f"pretrained {names[own]}")
    width = max(r.shape[1] for r in rows)
    figure = np.concatenate([np.pad(r, ((0, 8), (0, width - r.shape[1]), (0, 0)), constant_values=255)
                             for r in rows])
    args.out.parent.mkdir(parents=True, exist_ok=True)
    jpeg = args.out.suffix.lower() in (".jpg", ".jpeg")
    args.out.write_bytes(to_jpeg(figure, 85) if jpeg else to_png(figure))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
