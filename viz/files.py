"""Files of one analysis, as bytes: animated GIF, WebM video, PNG strip, standalone HTML, NPZ.

Each ``to_*`` function returns the file's bytes (the app hands them to download buttons;
``python -m programs.export`` writes them for a folder of images). Nothing here touches the disk
except OpenCV's video writer, which needs a temporary file.
"""

from __future__ import annotations

import io
import json
import os
import re
import sys
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import plotly.graph_objects as go
import plotly.io as pio
from PIL import Image

from model.attacks import attack_settings
from model.inference import Prediction
from model.records import AttackRun

from .figures import drift_figure, glance_figure
from .frames import Display, Shown, export_frames, glance_sheet

__all__ = ["to_gif", "to_webm", "to_png", "to_jpeg", "to_png_strip", "to_html", "to_npz", "export_metadata",
           "render_exports", "FORMATS", "MIME"]

FORMATS = ("gif", "webm", "png", "html", "npz")
# The WebM muxer keeps no codec tags, so FFmpeg says the "VP80" tag is unknown to it, then writes
# VP8 by its codec id, as wanted; it says so from C on every file.
HARMLESS_TAG_WARNING = b"is not supported with codec id"
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


@contextmanager
def _without_line(harmless: bytes) -> Iterator[None]:
    """Hold what C code writes to stderr (fd 2) meanwhile, and pass on every line but those
    containing ``harmless``."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as held:
        os.dup2(held.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            held.seek(0)
            kept = [line for line in held.read().splitlines(keepends=True) if harmless not in line]
            if kept:
                os.write(2, b"".join(kept))


def to_webm(frames: np.ndarray, fps: float = 2.0) -> bytes:
    """WebM (VP8) video of uint8 (N, H, W, 3) frames, playable in browsers. Odd sizes are padded
    to even ones, as the codec needs."""
    frames = _check_frames(frames)
    _check_fps(fps)
    n, h, w, _ = frames.shape
    H, W = h + h % 2, w + w % 2
    with tempfile.TemporaryDirectory() as tmp, _without_line(HARMLESS_TAG_WARNING):
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


def to_png(image: np.ndarray) -> bytes:
    """One uint8 (H, W, 3) RGB picture as PNG bytes."""
    frames = _check_frames(np.asarray(image)[None])
    ok, buf = cv2.imencode(".png", cv2.cvtColor(frames[0], cv2.COLOR_RGB2BGR))
    if not ok:
        raise ValueError("PNG encoding failed")
    return buf.tobytes()


def to_jpeg(image: np.ndarray, quality: int = 88) -> bytes:
    """One uint8 (H, W, 3) RGB picture as JPEG bytes (the docs' figures: far smaller than PNG)."""
    frames = _check_frames(np.asarray(image)[None])
    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(frames[0], cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ValueError("JPEG encoding failed")
    return buf.tobytes()


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
    return to_png(sheet)


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def summary(metadata: dict[str, Any]) -> list[str]:
    """An export's metadata in a few sentences: the checkpoint, the image, the attack and its outcome."""
    names = metadata.get("class_names") or []

    def name(k: Any) -> str:
        return names[k] if isinstance(k, int) and 0 <= k < len(names) else str(k)

    checkpoint, image = metadata.get("checkpoint") or {}, metadata.get("image") or {}
    lines = [f"Checkpoint {checkpoint.get('name', '?')}, image {image.get('name', '?')}, "
             f"read at {metadata.get('glances', '?')} glances."]
    attack, outcome = metadata.get("attack"), metadata.get("outcome")
    if attack and outcome:
        size = f"{attack['eps_255']:g}/255" if attack.get("eps_255") is not None else f"{attack.get('eps'):g} (L2)"
        goal = "a wrong class" if attack.get("target") == "untargeted" else name(outcome.get("target"))
        lines.append(f"PGD {attack.get('norm')}, epsilon {size}, {attack.get('steps')} steps, seed "
                     f"{attack.get('seed')}, aimed at {goal} against {attack.get('glances')} glances: "
                     f"{'reached' if outcome.get('success') else 'did not reach'} it; the model reads "
                     f"{name(outcome.get('adversarial_prediction'))}.")
    return lines


def export_stem(image_name: str, attacked: bool) -> str:
    """The file name (without extension) of an image's exports: its own name made safe, with
    ``_adv`` when an attack is shown. The page's downloads and ``s3ta-export`` use the same."""
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", os.path.splitext(os.path.basename(image_name))[0])[:80]
    return (stem or "image") + ("_adv" if attacked else "")


def to_html(figures: Sequence[go.Figure], title: str, notes: Sequence[str] = (),
            metadata: dict[str, Any] | None = None) -> bytes:
    """A standalone interactive page (plotly.js inlined once, no network needed): the notes, the
    figures, and the metadata as JSON folded away at the end."""
    if not figures:
        raise ValueError("need at least one figure")
    parts = [pio.to_html(fig, full_html=False, include_plotlyjs=(i == 0), auto_play=False)
             for i, fig in enumerate(figures)]
    body = "\n".join(f"<p>{_escape(n)}</p>" for n in notes) + "\n".join(parts)
    if metadata is not None:
        record = _escape(json.dumps(metadata, sort_keys=True, indent=2))
        body += f"\n<details><summary>Metadata (JSON)</summary><pre>{record}</pre></details>"
    page = (f"<!DOCTYPE html>\n<html><head><meta charset='utf-8'><title>{_escape(title)}</title></head>"
            f"<body style='font-family:sans-serif'><h2>{_escape(title)}</h2>\n{body}\n</body></html>\n")
    return page.encode("utf-8")


def export_metadata(shown: Shown, checkpoint: dict[str, Any], image_name: str, image_sha256: str,
                    glances: int) -> dict[str, Any]:
    """What an export was made from: checkpoint (name, sha256), image (its file's name and
    sha256), glances, attack settings and seed, outcome."""
    attack, box = shown.attack, shown.box
    meta: dict[str, Any] = {"checkpoint": checkpoint, "image": {"name": image_name, "sha256": image_sha256},
                            "glances": int(glances), "class_names": list(shown.class_names),
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


def render_exports(shown: Shown, display: Display, metadata: dict[str, Any], formats: Sequence[str] = FORMATS,
                   fps: float = 2.0, title: str = "S3TA Lab") -> dict[str, bytes]:
    """Every requested export of one analysis, as bytes by format."""
    bad = [f for f in formats if f not in FORMATS]
    if bad or not formats:
        raise ValueError(f"formats must be among {FORMATS}, got {list(formats)}")
    frames = export_frames(shown, display)

    def html() -> bytes:
        figures = [glance_figure(shown, display)]
        if shown.attack is not None:
            figures.append(drift_figure(shown.attack, shown.class_names, shown.box, display))
        return to_html(figures, title, summary(metadata), metadata)

    makers = {"gif": lambda: to_gif(frames, fps), "webm": lambda: to_webm(frames, fps),
              "png": lambda: to_png(glance_sheet(shown, display)), "html": html,
              "npz": lambda: to_npz(shown.image, shown.clean, shown.attack, metadata)}
    return {f: makers[f]() for f in formats}
