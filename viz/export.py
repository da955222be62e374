"""Exports of one analysis: animated GIF, WebM video, PNG strip, standalone HTML, NPZ.

Each ``to_*`` function returns the file's bytes (the app hands them to download buttons).
As a command it renders the same exports for a folder of images without the browser:

    python -m viz.export IMAGES_DIR --out exports/ --glances 8 --eps 8 --steps 20
"""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any, Sequence

import cv2
import numpy as np
import plotly.graph_objects as go
import plotly.io as pio
from PIL import Image

from model.inference import Prediction

from .analysis import AttackRun, attack_settings
from .views import Display, auto_zoom, drift_figure, export_frames, glance_figure

__all__ = ["to_gif", "to_webm", "to_png_strip", "to_html", "to_npz", "export_metadata",
           "render_exports", "FORMATS", "MIME", "cli"]

FORMATS = ("gif", "webm", "png", "html", "npz")
MIME = {"gif": "image/gif", "webm": "video/webm", "png": "image/png", "html": "text/html",
        "npz": "application/octet-stream"}


def _check_frames(frames: np.ndarray) -> np.ndarray:
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8 or frames.shape[0] < 1:
        raise ValueError(f"frames must be uint8 (N>=1, H, W, 3), got {frames.dtype} {frames.shape}")
    return frames


def _check_fps(fps: float) -> None:
    if not 0.1 <= fps <= 60:
        raise ValueError(f"fps must be in [0.1, 60], got {fps}")


def to_gif(frames: np.ndarray, fps: float = 2.0, loop: bool = True) -> bytes:
    """Animated GIF of uint8 (N, H, W, 3) frames."""
    frames = _check_frames(frames)
    _check_fps(fps)
    images = [Image.fromarray(f).quantize(colors=255, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE)
              for f in frames]
    buf = io.BytesIO()
    images[0].save(buf, format="GIF", save_all=True, append_images=images[1:],
                   duration=int(round(1000 / fps)), loop=0 if loop else None, optimize=False,
                   disposal=1)
    return buf.getvalue()


def to_webm(frames: np.ndarray, fps: float = 2.0) -> bytes:
    """WebM (VP8) video of uint8 (N, H, W, 3) frames, playable in browsers. Odd sizes are padded
    to even ones, as the codec needs."""
    frames = _check_frames(frames)
    _check_fps(fps)
    n, h, w, _ = frames.shape
    H, W = h + h % 2, w + w % 2
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "out.webm")
        writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*"VP80"), fps, (W, H))
        if not writer.isOpened():
            raise RuntimeError("this OpenCV build cannot write WebM (VP8)")
        for f in frames:
            padded = np.zeros((H, W, 3), np.uint8)
            padded[:h, :w] = f
            writer.write(cv2.cvtColor(padded, cv2.COLOR_RGB2BGR))
        writer.release()
        return Path(path).read_bytes()


def to_png_strip(frames: np.ndarray, columns: int | None = None, gap: int = 4) -> bytes:
    """One PNG with the frames in a grid (a single row by default)."""
    frames = _check_frames(frames)
    n, h, w, _ = frames.shape
    cols = n if columns is None else int(columns)
    if not 1 <= cols <= n:
        raise ValueError(f"columns must be in [1, {n}], got {columns}")
    rows = -(-n // cols)
    sheet = np.full((rows * h + (rows - 1) * gap, cols * w + (cols - 1) * gap, 3), 255, np.uint8)
    for i, f in enumerate(frames):
        r, c = divmod(i, cols)
        sheet[r * (h + gap): r * (h + gap) + h, c * (w + gap): c * (w + gap) + w] = f
    ok, buf = cv2.imencode(".png", cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR))
    if not ok:
        raise ValueError("PNG encoding failed")
    return buf.tobytes()


def to_html(figures: Sequence[go.Figure], title: str, notes: Sequence[str] = ()) -> bytes:
    """A standalone interactive page (plotly.js inlined once, no network needed)."""
    if not figures:
        raise ValueError("need at least one figure")
    parts = [pio.to_html(fig, full_html=False, include_plotlyjs=(i == 0), auto_play=False)
             for i, fig in enumerate(figures)]
    esc = lambda s: s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")  # noqa: E731
    body = "\n".join(f"<p>{esc(n)}</p>" for n in notes) + "\n".join(parts)
    page = (f"<!DOCTYPE html>\n<html><head><meta charset='utf-8'><title>{esc(title)}</title></head>"
            f"<body style='font-family:sans-serif'><h2>{esc(title)}</h2>\n{body}\n</body></html>\n")
    return page.encode("utf-8")


def export_metadata(checkpoint: dict[str, Any], image_name: str, image_sha256: str, glances: int,
                    attack: AttackRun | None, class_names: Sequence[str],
                    box: tuple[int, int, int, int] | None) -> dict[str, Any]:
    """What an export was made from: checkpoint (name, sha256), image, glances, attack
    settings and seed, outcome."""
    meta: dict[str, Any] = {"checkpoint": checkpoint, "image": {"name": image_name, "sha256": image_sha256},
                            "glances": int(glances), "class_names": list(class_names),
                            "box": None if box is None else [int(v) for v in box]}
    if attack is not None:
        meta["attack"] = attack_settings(attack.config, attack.seed, attack.glances)
        meta["outcome"] = {"label": attack.label, "target": attack.target, "success": attack.success,
                           "adversarial_prediction": attack.prediction.label,
                           "seconds": round(attack.seconds, 3)}
    return meta


def to_npz(image: np.ndarray, clean: Prediction, attack: AttackRun | None, metadata: dict[str, Any]) -> bytes:
    """Compressed NPZ: images, attention maps (N, heads, h, w), per-glance probabilities, the
    attack's drift, and ``metadata`` as a JSON string."""
    arrays: dict[str, np.ndarray] = {
        "image": np.asarray(image, np.float32), "attention_clean": clean.attention.astype(np.float32),
        "step_probs_clean": clean.step_probs.astype(np.float32),
        "metadata": np.array(json.dumps(metadata, sort_keys=True))}
    if attack is not None:
        arrays.update(adversarial=attack.image.astype(np.float32),
                      attention_adv=attack.prediction.attention.astype(np.float32),
                      step_probs_adv=attack.prediction.step_probs.astype(np.float32),
                      drift_images=attack.drift.images.astype(np.float32),
                      drift_attention=attack.drift.attention.astype(np.float32),
                      drift_probs=attack.drift.probs.astype(np.float32),
                      drift_labels=np.array(attack.drift.labels))
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)
    return buf.getvalue()


def render_exports(image: np.ndarray, clean: Prediction, attack: AttackRun | None,
                   class_names: Sequence[str], box: tuple[int, int, int, int] | None, display: Display,
                   metadata: dict[str, Any], formats: Sequence[str] = FORMATS, fps: float = 2.0,
                   title: str = "S3TA Lab") -> dict[str, bytes]:
    """Every requested export of one analysis, as bytes by format."""
    bad = [f for f in formats if f not in FORMATS]
    if bad or not formats:
        raise ValueError(f"formats must be among {FORMATS}, got {list(formats)}")
    frames = export_frames(image, clean, attack, class_names, box, display)

    def html() -> bytes:
        figures = [glance_figure(image, clean, attack, class_names, box, display)]
        if attack is not None:
            figures.append(drift_figure(attack, class_names, box, display))
        return to_html(figures, title, [json.dumps(metadata, sort_keys=True)])

    makers = {"gif": lambda: to_gif(frames, fps), "webm": lambda: to_webm(frames, fps),
              "png": lambda: to_png_strip(frames), "html": html,
              "npz": lambda: to_npz(image, clean, attack, metadata)}
    return {f: makers[f]() for f in formats}


def get_args_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser("python -m viz.export", description="Render the app's exports "
                                "(GIF, WebM, PNG strip, HTML, NPZ) for every image in a folder.")
    p.add_argument("images", type=Path, help="a folder of images (or one image file)")
    p.add_argument("--out", type=Path, required=True, help="folder for the exports")
    p.add_argument("--checkpoint", type=Path, default=None, help="safetensors checkpoint (default: shipped)")
    p.add_argument("--glances", type=int, default=None, help="glance count (default: the model's)")
    p.add_argument("--eps", type=float, default=8.0, help="attack radius: /255 units for linf, "
                   "pixel-space L2 norm for l2; 0 exports the clean image only")
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--norm", choices=["linf", "l2"], default="linf")
    p.add_argument("--target", default="random", help="random, untargeted, or a class index or name")
    p.add_argument("--restarts", type=int, default=1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--fit", choices=["letterbox", "resize", "crop"], default="letterbox")
    p.add_argument("--head", type=int, default=None, help="one head (default: mean over heads)")
    p.add_argument("--cmap", default="inferno")
    p.add_argument("--fps", type=float, default=2.0)
    p.add_argument("--formats", default=",".join(FORMATS), help=f"comma list of {FORMATS}")
    p.add_argument("--device", default=None)
    return p


def main(args: argparse.Namespace) -> list[Path]:
    """Write ``<stem>.<format>`` per image into ``args.out``; returns the written paths."""
    import hashlib

    import torch

    from model.attacks import AttackConfig
    from model.checkpoint import DEFAULT_CHECKPOINT, file_sha256, load_model
    from model.data.imagefolder import IMAGE_EXTENSIONS
    from model.inference import predict

    from .analysis import run_attack
    from .images import ImageError, prepare_image

    formats = [f.strip() for f in args.formats.split(",") if f.strip()]
    bad = [f for f in formats if f not in FORMATS]
    if bad or not formats:
        raise SystemExit(f"--formats must be a comma list of {FORMATS}, got {args.formats!r}")
    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    ckpt = args.checkpoint or DEFAULT_CHECKPOINT
    model = load_model(ckpt, device)
    names = model.metadata["class_names"]
    glances = args.glances or model.config.glances
    if args.target in ("random", "untargeted"):
        target, target_class = args.target, None
    else:
        target = "class"
        target_class = int(args.target) if args.target.isdigit() else (
            names.index(args.target) if args.target in names else None)
        if target_class is None:
            raise SystemExit(f"--target must be random, untargeted, a class index or one of {names}")
    eps = args.eps / 255 if args.norm == "linf" else args.eps
    cfg = None if args.eps == 0 else AttackConfig(norm=args.norm, eps=eps, steps=args.steps, target=target,
                                                  target_class=target_class, restarts=args.restarts)
    display = Display(head=args.head, cmap=args.cmap, zoom=auto_zoom(model.config.image_size))
    files = [args.images] if args.images.is_file() else sorted(
        p for p in args.images.iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS)
    if not files:
        raise SystemExit(f"no images ({', '.join(IMAGE_EXTENSIONS)}) in {args.images}")
    args.out.mkdir(parents=True, exist_ok=True)
    checkpoint = {"name": Path(ckpt).name, "sha256": file_sha256(ckpt)}
    written = []
    for path in files:
        data = path.read_bytes()
        try:
            prepared = prepare_image(data, model.config.image_size, args.fit)
        except ImageError as exc:
            print(f"skip {path.name}: {exc}", file=sys.stderr)
            continue
        image = prepared.image
        clean = predict(model, image, glances)
        attack = None
        if cfg is not None:
            if cfg.target == "class" and target_class == clean.label:
                print(f"{path.name}: already predicted as the target class; no attack", file=sys.stderr)
            else:
                attack = run_attack(model, image, clean.label, glances, cfg, args.seed)
        meta = export_metadata(checkpoint, path.name, hashlib.sha256(data).hexdigest(), glances,
                               attack, names, None)
        files = render_exports(image, clean, attack, names, None, display, meta, formats, args.fps,
                               f"S3TA Lab: {path.name}")
        for fmt, data in files.items():
            target_path = args.out / f"{path.stem}.{fmt}"
            target_path.write_bytes(data)
            written.append(target_path)
        outcome = "" if attack is None else (f" -> {names[attack.prediction.label]}"
                                             f" ({'success' if attack.success else 'failed'})")
        print(f"{path.name}: {names[clean.label]}{outcome}")
    return written


def cli() -> None:
    main(get_args_parser().parse_args())


if __name__ == "__main__":
    cli()
