"""Images in: an uploaded file decoded into the model's input (EXIF-oriented, RGB, square),
and the shipped sample gallery in ``assets/samples`` (test canvases with their item boxes).

Everything that can go wrong with a file a person hands us becomes an ``ImageError`` with a
message fit to show in the page; nothing is written to disk and no path from the browser is
ever opened.
"""

from __future__ import annotations

import hashlib
import io
import json
import struct
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from model.data.canvases import DEFAULT_TASK
from model.data.stats import image_stats
from model.info import INPUT_FITS
from model.records import Box

__all__ = ["ImageError", "PreparedImage", "prepare_image", "domain_warnings", "MAX_FILE_BYTES",
           "MAX_PIXELS", "FIT_MODES", "Sample", "load_samples", "SAMPLES_DIR",
           "gallery_folder", "task_gallery"]

MAX_FILE_BYTES = 20 * 1024 * 1024  # the image uploader's max_upload_size in app.py
MAX_PIXELS = 40_000_000  # decoded size limit: a 5 MB PNG can declare gigapixels (a "bomb")
MAX_SIDE_RATIO = 50  # 1x10000 strips hold nothing a 96 px model can see
FIT_MODES = INPUT_FITS
SAMPLES_DIR = Path(__file__).resolve().parent.parent / "assets" / "samples"


# What PIL's decoders raise on malformed files (found by bench/fuzz_uploads.py: truncated GIF
# extensions raise IndexError and struct.error, TIFFs without dimensions TypeError).
DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, MemoryError, IndexError, KeyError, TypeError,
                 struct.error, ZeroDivisionError, OverflowError)


class ImageError(ValueError):
    """The file is not an image we can use; the message says why and what would work."""


@dataclass(frozen=True)
class PreparedImage:
    """``image`` (size, size, 3) float32 in [0, 1]; ``content`` the rectangle (x0, y0, x1, y1) of
    the model's input that the original picture covers (less than all of it when letterboxed)."""

    image: np.ndarray
    original_size: tuple[int, int]  # (width, height) after EXIF rotation
    mode: str  # the file's PIL mode before conversion, e.g. "RGBA", "I;16", "CMYK"
    format: str
    content: Box
    notes: list[str] = field(default_factory=list)

    @property
    def own_pixels(self) -> np.ndarray:
        return own_pixels(self.image, self.content)


def own_pixels(image: np.ndarray, content: Box | None) -> np.ndarray:
    """The picture without the fit's padding (``content`` None: all of it): what to compare with a
    model's training inputs."""
    if content is None:
        return image
    x0, y0, x1, y1 = content
    return image[y0:y1, x0:x1]


def _open(data: bytes) -> Image.Image:
    if not data:
        raise ImageError("the file is empty")
    if len(data) > MAX_FILE_BYTES:
        raise ImageError(f"the file is {len(data):,} bytes; the limit is {MAX_FILE_BYTES:,} bytes "
                         f"({MAX_FILE_BYTES // 2**20} MB)")
    try:
        im = Image.open(io.BytesIO(data))
        w, h = im.size
        if w * h > MAX_PIXELS:
            raise ImageError(f"the image declares {w}x{h} pixels ({w * h / 1e6:.0f} MP); the limit "
                             f"is {MAX_PIXELS / 1e6:.0f} MP")
        im.seek(0)  # the first frame of an animation
        im.load()
    except ImageError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageError(f"the image is too large to decode safely ({exc})") from exc
    except UnidentifiedImageError as exc:
        raise ImageError("the file is not an image this app can read (PNG, JPEG, WebP, GIF, BMP, "
                         "TIFF)") from exc
    except DECODE_ERRORS as exc:
        raise ImageError(f"the image file is damaged or truncated: {exc}") from exc
    return im


def _to_rgb(im: Image.Image, background: float) -> Image.Image:
    """Any PIL mode -> RGB; transparency is composited over a ``background`` grey level."""
    if im.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        a = np.nan_to_num(np.asarray(im, dtype=np.float64), nan=0.0, posinf=0.0, neginf=0.0)
        lo, hi = (0.0, 65535.0) if im.mode.startswith("I;16") or a.max() > 255 else (0.0, 255.0)
        if im.mode == "F":
            lo, hi = float(a.min()), float(max(a.max(), a.min() + 1e-12))
        a = np.clip((a - lo) / (hi - lo), 0, 1)
        return Image.fromarray((a * 255 + 0.5).astype(np.uint8)).convert("RGB")
    if im.mode == "P" and "transparency" in im.info:
        im = im.convert("RGBA")
    if im.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = im.convert("RGBA")
        bg = Image.new("RGBA", rgba.size, (int(background * 255),) * 3 + (255,))
        return Image.alpha_composite(bg, rgba).convert("RGB")
    return im.convert("RGB")


def _fit(im: Image.Image, size: int, fit: str, background: float
         ) -> tuple[Image.Image, Box]:
    w, h = im.size
    if fit == "resize":
        return im.resize((size, size), Image.BILINEAR, reducing_gap=3.0), Box(0, 0, size, size)
    if fit == "crop":
        side = min(w, h)
        left, top = (w - side) // 2, (h - side) // 2
        im = im.crop((left, top, left + side, top + side))
        return im.resize((size, size), Image.BILINEAR, reducing_gap=3.0), Box(0, 0, size, size)
    scale = size / max(w, h)
    nw, nh = max(1, round(w * scale)), max(1, round(h * scale))
    canvas = Image.new("RGB", (size, size), (int(background * 255),) * 3)
    x0, y0 = (size - nw) // 2, (size - nh) // 2
    canvas.paste(im.resize((nw, nh), Image.BILINEAR, reducing_gap=3.0), (x0, y0))
    return canvas, Box(x0, y0, x0 + nw, y0 + nh)


def prepare_image(data: bytes, size: int, fit: str = "letterbox", background: float = 0.0
                  ) -> PreparedImage:
    """Bytes of an image file -> the model's (size, size, 3) input.

    ``fit``: "letterbox" keeps the whole picture and pads with ``background`` (the training
    canvases are black, so 0.0), "resize" stretches it, "crop" takes the central square.
    """
    if fit not in FIT_MODES:
        raise ValueError(f"fit must be one of {FIT_MODES}, got {fit!r}")
    if not isinstance(size, int) or not 8 <= size <= 4096:
        raise ValueError(f"size must be an integer in [8, 4096], got {size!r}")
    if not 0.0 <= background <= 1.0:
        raise ValueError(f"background must be in [0, 1], got {background}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # PIL warns on corrupt EXIF and the like; pixels still count
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        return _prepare(data, size, fit, background)


def _prepare(data: bytes, size: int, fit: str, background: float) -> PreparedImage:
    im = _open(data)
    fmt, mode = im.format or "?", im.mode
    notes = []
    try:  # is_animated looks for a second frame only (n_frames would walk them all)
        animated = bool(getattr(im, "is_animated", False))
    except DECODE_ERRORS:
        animated = False
    if animated:
        notes.append(f"animated {fmt}: using its first frame")
    try:
        im.seek(0)
    except DECODE_ERRORS as exc:
        raise ImageError(f"the image file is damaged or truncated: {exc}") from exc
    try:
        im = ImageOps.exif_transpose(im)
    except DECODE_ERRORS:  # a broken EXIF block: keep the pixels
        notes.append("the EXIF orientation could not be read; the image is shown as stored")
    w, h = im.size
    if max(w, h) / max(min(w, h), 1) > MAX_SIDE_RATIO:
        raise ImageError(f"the image is {w}x{h}: too thin to classify (sides differ more than "
                         f"{MAX_SIDE_RATIO}x)")
    try:
        rgb = _to_rgb(im, background)
        fitted, content = _fit(rgb, size, fit, background)
    except DECODE_ERRORS as exc:
        raise ImageError(f"the image could not be converted: {exc}") from exc
    if mode != "RGB":
        notes.append(f"converted from {mode} to RGB")
    if (w, h) != (size, size):
        notes.append(f"{fit} from {w}x{h} to {size}x{size}")
    image = np.asarray(fitted, dtype=np.float32) / 255.0
    return PreparedImage(image, (w, h), mode, fmt, content, notes)


def domain_warnings(image: np.ndarray, stats: dict | None, z_limit: float = 4.0) -> list[str]:
    """Ways ``image`` ((H, W, 3) in [0, 1]) is far from the model's training inputs: each
    statistic of ``model.data.stats`` more than ``z_limit`` spreads from the checkpoint's
    ``input_stats``. No stats (an older or foreign checkpoint) means nothing to compare."""
    if not stats:
        return []
    words = {"mean": "brightness", "std": "contrast", "saturation": "colour saturation",
             "dark_fraction": "share of dark background"}
    out = []
    for key, value in image_stats(image).items():
        ref = stats.get(key)
        if not isinstance(ref, dict):
            continue
        mean, std = float(ref.get("mean", 0.0)), float(ref.get("std", 0.0))
        if abs(float(value) - mean) / max(std, 0.02) > z_limit:
            out.append(f"{words[key]} {float(value):.2f} is far from the training images' "
                       f"{mean:.2f} ± {std:.2f}")
    return out


@dataclass(frozen=True)
class Sample:
    """One gallery image with its label (-1: none of the model's classes) and the item's box."""

    name: str
    image: np.ndarray  # (H, W, 3) float32 in [0, 1]
    label: int
    class_name: str
    box: Box | None  # the item's (x0, y0, x1, y1), half-open, pixels; None for a photo without one
    sha256: str = ""  # of the shipped file's bytes

    def label_for(self, class_names: Sequence[str]) -> int | None:
        """The sample's label as a class of a model with ``class_names``: trusted only when that
        model names the class as the gallery does (a model of other classes gets None)."""
        ok = 0 <= self.label < len(class_names) and class_names[self.label] == self.class_name
        return self.label if ok else None


def gallery_folder(task: str, root: Path = SAMPLES_DIR) -> Path:
    """Where a canvas task's gallery is: ``root`` for the default task, ``root/<task>`` for others."""
    return root if task == DEFAULT_TASK else root / task


def task_gallery(task: str, root: Path = SAMPLES_DIR) -> tuple[str, list[Sample]]:
    """(the task whose canvases are shown, the samples): the task's own gallery when one is
    shipped, else the default task's (the page then says the model is outside its task)."""
    folder = gallery_folder(task, root)
    if task != DEFAULT_TASK and (folder / "samples.json").is_file():
        return task, load_samples(folder)
    return DEFAULT_TASK, load_samples(root)


def load_samples(folder: Path = SAMPLES_DIR) -> list[Sample]:
    """Samples listed in ``samples.json``, in its order."""
    index = json.loads((folder / "samples.json").read_text())
    out = []
    for s in index["samples"]:
        data = (folder / s["file"]).read_bytes()
        with Image.open(io.BytesIO(data)) as im:
            image = np.asarray(im.convert("RGB"), dtype=np.float32) / 255.0
        out.append(Sample(s["file"], image, int(s["label"]), s["class_name"], Box(*s["box"]) if s.get("box") else None,
                          hashlib.sha256(data).hexdigest()))
    return out
