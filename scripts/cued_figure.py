"""Where a cued-task model looks, glance by glance, on clean gallery canvases and after the app's
default attack (targeted PGD-20 at 32/255 towards a random class, aimed at the model's glances).

    python -m scripts.cued_figure runs/cued_gpu/cued_guided/model.safetensors --out docs/cued_glances.jpg

Two rows per canvas: clean, then adversarial; one panel per glance (head-averaged attention over
the image, the named item's box in green), captioned with that glance's answer.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from compute.catalog import open_checkpoint
from compute.images import task_gallery
from compute.runs import run_attack
from model.attacks import AttackConfig
from model.inference import predict
from viz.files import to_jpeg, to_png
from viz.frames import Display, caption, glance_frames

ROOT = Path(__file__).resolve().parent.parent


def row(model, image: np.ndarray, box: tuple[int, int, int, int], glances: int, names: list[str],
        title: str) -> np.ndarray:
    pred = predict(model, image, glances)
    frames = glance_frames(image, pred.attention, Display(zoom=2, cmap="inferno", alpha=0.55), box=box)
    panels = [caption(f, f"{t + 1}: {names[int(pred.step_probs[t].argmax())][:11]} {pred.step_probs[t].max():.2f}")
              for t, f in enumerate(frames)]
    return caption(np.concatenate(panels, axis=1), title, height=22)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("checkpoint", type=Path)
    p.add_argument("--out", type=Path, default=ROOT / "docs" / "cued_glances.jpg")
    p.add_argument("--samples", type=int, nargs="+", default=[0, 1, 4, 8], help="gallery positions")
    p.add_argument("--glances", type=int, default=4)
    p.add_argument("--eps", type=float, default=32, help="/255")
    p.add_argument("--steps", type=int, default=20)
    args = p.parse_args()
    torch.set_num_threads(1)
    model = open_checkpoint(args.checkpoint)
    task = str(model.metadata.get("task"))
    shown, samples = task_gallery(task)
    if shown != task:
        raise SystemExit(f"{args.checkpoint} was trained on {task!r}; no gallery of it is shipped")
    names = list(model.metadata["class_names"])
    cfg = AttackConfig(eps=args.eps / 255, steps=args.steps, target="random")
    rows, lines = [], []
    for i in args.samples:
        s = samples[i]
        run = run_attack(model, s.image, s.label, args.glances, cfg, seed=0)
        outcome = "reached" if run.success else "missed"
        rows.append(row(model, s.image, s.box, args.glances, names, f"{s.name}, clean: {s.class_name}"))
        rows.append(row(model, run.image, s.box, args.glances, names,
                        f"attacked towards {names[run.target]} ({outcome})"))
        lines.append(f"- {s.name} ({s.class_name}): towards {names[run.target]}, {outcome}")
    width = max(r.shape[1] for r in rows)
    figure = np.concatenate([np.pad(r, ((0, 6), (0, width - r.shape[1]), (0, 0)), constant_values=255)
                             for r in rows])
    args.out.parent.mkdir(parents=True, exist_ok=True)
    jpeg = args.out.suffix.lower() in (".jpg", ".jpeg")
    args.out.write_bytes(to_jpeg(figure, 85) if jpeg else to_png(figure))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
