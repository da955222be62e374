"""Export formats decode back to what went in; the export CLI renders a folder."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from viz.files import to_gif, to_html, to_png_strip, to_webm

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def frames():
    yy, xx = np.mgrid[0:33, 0:47]  # smooth pictures, like the overlays; odd sizes on purpose
    return np.stack([np.stack([xx * 5 + 10 * t, yy * 7, (xx + yy) * 3 + 20 * t], axis=-1) % 256
                     for t in range(5)]).astype(np.uint8)


def test_gif_has_every_frame_and_the_timing(frames):
    with Image.open(io.BytesIO(to_gif(frames, fps=4))) as gif:
        assert gif.n_frames == 5 and gif.size == (47, 33)
        assert gif.info["duration"] == 250
        gif.seek(2)
        got = np.asarray(gif.convert("RGB"), dtype=np.int16)
    assert np.abs(got - frames[2]).mean() < 6  # 255-colour quantisation only


def test_webm_decodes_to_the_frames(frames, tmp_path):
    path = tmp_path / "v.webm"
    path.write_bytes(to_webm(frames, fps=2))
    cap = cv2.VideoCapture(str(path))
    decoded = []
    while True:
        ok, f = cap.read()
        if not ok:
            break
        decoded.append(cv2.cvtColor(f, cv2.COLOR_BGR2RGB))
    assert len(decoded) == 5 and decoded[0].shape == (34, 48, 3)  # padded to even sizes
    flat = np.full((5, 32, 32, 3), 200, np.uint8)  # lossy codec: compare on a flat frame
    path.write_bytes(to_webm(flat))
    ok, f = cv2.VideoCapture(str(path)).read()
    assert ok and abs(float(f.mean()) - 200) < 4


def test_png_strip_lays_out_a_grid(frames):
    with Image.open(io.BytesIO(to_png_strip(frames, columns=2, gap=3))) as im:
        sheet = np.asarray(im.convert("RGB"))
    assert sheet.shape == (3 * 33 + 2 * 3, 2 * 47 + 3, 3)
    np.testing.assert_array_equal(sheet[36:69, 50:97], frames[3])  # row 1, column 1: lossless


def test_bad_frames_and_settings_are_refused(frames):
    with pytest.raises(ValueError, match="uint8"):
        to_gif(frames.astype(np.float32))
    with pytest.raises(ValueError, match="fps"):
        to_webm(frames, fps=0)
    with pytest.raises(ValueError, match="columns"):
        to_png_strip(frames, columns=9)
    with pytest.raises(ValueError, match="figure"):
        to_html([], "t")


def test_html_escapes_its_text():
    import plotly.graph_objects as go
    page = to_html([go.Figure()], "<script>x</script>", ["a < b"]).decode()
    assert "<script>x</script>" not in page and "&lt;script&gt;" in page and "a &lt; b" in page


@pytest.mark.slow
def test_cli_renders_each_image_and_skips_broken_files(tmp_path):
    images = tmp_path / "in"
    images.mkdir()
    for p in sorted((ROOT / "assets" / "samples").glob("*.png"))[:2]:
        (images / p.name).write_bytes(p.read_bytes())
    (images / "broken.png").write_bytes(b"not an image")
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, "-m", "programs.export", str(images), "--out", str(out), "--glances", "3",
                           "--eps", "16", "--steps", "5", "--step-size", "4", "--formats", "gif,npz,png"],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "skip broken.png" in proc.stderr
    assert sorted(p.name for p in out.iterdir()) == sorted(
        f"{Path(n).stem}_adv.{f}" for n in sorted(p.name for p in images.iterdir() if p.name != "broken.png")
        for f in ("gif", "npz", "png"))
    npz = np.load(next(out.glob("*.npz")))
    meta = json.loads(str(npz["metadata"]))
    assert meta["glances"] == 3 and meta["attack"]["steps"] == 5 and meta["attack"]["eps_255"] == pytest.approx(16)
    assert meta["attack"]["alpha"] == pytest.approx(4 / 255)
    with Image.open(next(out.glob("*.gif"))) as gif:
        assert gif.n_frames == 3
    bad = subprocess.run([sys.executable, "-m", "programs.export", str(images), "--out", str(out), "--formats", "mp4"],
                         cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert bad.returncode != 0 and "--formats" in bad.stderr


def test_webm_is_written_without_codec_warnings(frames, capfd):
    """FFmpeg's messages reach the server's log from C (fd 2): a WebM export prints none."""
    capfd.readouterr()
    to_webm(frames, fps=2)
    out, err = capfd.readouterr()
    assert "not supported" not in err and "FFMPEG" not in err, err
