"""A corpus of odd and hostile upload files, generated in memory (nothing is shipped).

``corpus()`` maps a name to (bytes, expectation): "ok" means the file must decode to a usable
model input, otherwise the expectation is a fragment of the ``ImageError`` message.
"""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
from PIL import Image

__all__ = ["corpus", "png_bytes"]


def _save(im: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    im.save(buf, fmt, **kw)
    return buf.getvalue()


def _picture(w: int = 64, h: int = 48) -> np.ndarray:
    yy, xx = np.mgrid[0:h, 0:w]
    return np.stack([xx * 255 // max(w - 1, 1), yy * 255 // max(h - 1, 1), (xx + yy) % 256], -1).astype(np.uint8)


def png_bytes(w: int = 64, h: int = 48) -> bytes:
    return _save(Image.fromarray(_picture(w, h)), "PNG")


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def _png_declaring(w: int, h: int) -> bytes:
    """A valid-looking PNG header declaring w x h pixels, with a tiny (wrong) pixel stream."""
    ihdr = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", zlib.compress(b"\x00" * 64))
            + _chunk(b"IEND", b""))


def _exif_rotated_jpeg() -> bytes:
    im = Image.fromarray(_picture(40, 20))
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90 degrees clockwise to display
    return _save(im, "JPEG", exif=exif.tobytes())


def _animated_gif() -> bytes:
    frames = [Image.fromarray(np.full((30, 30, 3), v, np.uint8)) for v in (10, 120, 240)]
    return _save(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)


def _sixteen_bit_png() -> bytes:
    a = (np.linspace(0, 65535, 50 * 40).reshape(40, 50)).astype(np.uint16)
    return _save(Image.fromarray(a), "PNG")  # uint16 -> mode I;16


def corpus(upload_limit: int = 20 * 2**20) -> dict[str, tuple[bytes, str]]:
    pic = Image.fromarray(_picture())
    png, jpeg = png_bytes(), _save(pic, "JPEG", quality=90)
    rgba = np.dstack([_picture(), np.tile(np.linspace(0, 255, 64).astype(np.uint8), (48, 1))])
    palette_transparent = pic.convert("P", palette=Image.ADAPTIVE)
    palette_transparent.info["transparency"] = 0
    return {
        "ok.png": (png, "ok"),
        "ok.jpg": (jpeg, "ok"),
        "ok.webp": (_save(pic, "WEBP"), "ok"),
        "ok.bmp": (_save(pic, "BMP"), "ok"),
        "ok.tiff": (_save(pic, "TIFF"), "ok"),
        "empty.png": (b"", "empty"),
        "text.png": (b"this is a text file, not a picture\n" * 10, "not an image"),
        "html.jpg": (b"<html><script>alert(1)</script></html>", "not an image"),
        "zip.png": (b"PK\x03\x04" + b"\x00" * 200, "not an image"),
        "truncated.png": (png[: len(png) // 2], "damaged or truncated"),
        "truncated.jpg": (jpeg[: len(jpeg) // 2], "damaged or truncated"),
        "corrupt_idat.png": (png[:60] + bytes(b ^ 0xFF for b in png[60:120]) + png[120:], "damaged"),
        "header_only.png": (png[:33], "not an image"),
        "bomb_declared.png": (_png_declaring(100_000, 100_000), "too large"),
        "bomb_wide.png": (_png_declaring(60_000, 1_000), "limit"),
        "bomb_zeros.png": (_save(Image.new("L", (8000, 6000)), "PNG"), "limit"),
        "sixteen_bit.png": (_sixteen_bit_png(), "ok"),
        "cmyk.jpg": (_save(pic.convert("CMYK"), "JPEG"), "ok"),
        "palette.png": (_save(pic.convert("P", palette=Image.ADAPTIVE), "PNG"), "ok"),
        "palette_transparent.png": (_save(palette_transparent, "PNG", transparency=0), "ok"),
        "la.png": (_save(pic.convert("LA"), "PNG"), "ok"),
        "grey.png": (_save(pic.convert("L"), "PNG"), "ok"),
        "one_bit.png": (_save(pic.convert("1"), "PNG"), "ok"),
        "rgba.png": (_save(Image.fromarray(rgba, "RGBA"), "PNG"), "ok"),
        "float.tiff": (_save(Image.fromarray(np.linspace(-3, 7, 48 * 64, dtype=np.float32).reshape(48, 64), "F"),
                             "TIFF"), "ok"),
        "int32.tiff": (_save(Image.fromarray(_picture()[..., 0].astype(np.int32) * 3), "TIFF"), "ok"),
        "animated.gif": (_animated_gif(), "ok"),
        "exif_rotated.jpg": (_exif_rotated_jpeg(), "ok"),
        "one_pixel.png": (png_bytes(1, 1), "ok"),
        "strip_1x10000.png": (_save(Image.new("RGB", (1, 10000)), "PNG"), "too thin"),
        "strip_10000x1.png": (_save(Image.new("RGB", (10000, 1)), "PNG"), "too thin"),
        "tiny_2x3.png": (png_bytes(2, 3), "ok"),
        "over_limit.png": (png + b"\x00" * (upload_limit + 1 - len(png)), "limit is"),
        "bad_exif.jpg": (jpeg[:2] + b"\xff\xe1\x00\x10Exif\x00\x00MM\x00*\xff\xff\xff\xff" + jpeg[2:], "ok"),
        "random_bytes.jpg": (np.random.default_rng(0).integers(0, 256, 5000, dtype=np.uint8).tobytes(),
                             "not an image"),
        "svg.png": (b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>', "not an image"),
    }
