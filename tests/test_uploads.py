"""Hostile and odd uploads: each decodes correctly or gets a clear message, in the library and
in the page, and the next upload still works. Plus a short fuzz of the decode path."""

from __future__ import annotations

import io
import random

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image
from streamlit.testing.v1 import AppTest

from compute.images import MAX_FILE_BYTES, ImageError, prepare_image
from tests.hostile import corpus, png_bytes

from .conftest import APP, figure

CORPUS = corpus(MAX_FILE_BYTES)


def test_the_corpus_is_big_enough():
    assert len(CORPUS) >= 30
    assert sum(exp != "ok" for _, exp in CORPUS.values()) >= 15


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_each_file_decodes_or_gets_a_clear_message(name):
    data, expect = CORPUS[name]
    if expect == "ok":
        p = prepare_image(data, 96)
        assert p.image.shape == (96, 96, 3) and p.image.dtype == np.float32
        assert np.isfinite(p.image).all() and 0 <= p.image.min() and p.image.max() <= 1
    else:
        with pytest.raises(ImageError, match=expect):
            prepare_image(data, 96)


def test_conversions_are_right():
    rotated = prepare_image(CORPUS["exif_rotated.jpg"][0], 96, fit="resize")
    assert rotated.original_size == (20, 40)  # EXIF orientation 6 applied
    with Image.open(io.BytesIO(CORPUS["exif_rotated.jpg"][0])) as im:
        upright = np.asarray(im.rotate(-90, expand=True).resize((96, 96), Image.BILINEAR), np.float32) / 255
    assert np.abs(rotated.image - upright).mean() < 0.02
    deep = prepare_image(CORPUS["sixteen_bit.png"][0], 96, fit="resize").image
    assert deep.min() < 0.01 and deep.max() > 0.99  # 16-bit range mapped to [0, 1], not clipped
    rgba = prepare_image(CORPUS["rgba.png"][0], 96, fit="resize").image
    assert rgba[:, :3].max() < 0.05  # fully transparent columns composite to the black background
    gif = prepare_image(CORPUS["animated.gif"][0], 96, fit="resize").image
    assert abs(float(gif.mean()) - 10 / 255) < 0.01  # the first frame
    boxed = prepare_image(png_bytes(64, 32), 96)
    assert boxed.content == (0, 24, 96, 72) and boxed.image[:24].max() == 0  # letterbox bars
    cropped = prepare_image(png_bytes(64, 32), 96, fit="crop")
    assert cropped.content == (0, 0, 96, 96)


def test_bad_arguments_say_what_is_allowed():
    with pytest.raises(ValueError, match="fit must be one of"):
        prepare_image(png_bytes(), 96, fit="stretch")
    with pytest.raises(ValueError, match="size must be"):
        prepare_image(png_bytes(), 0)
    with pytest.raises(ValueError, match="background"):
        prepare_image(png_bytes(), 96, background=2)


@settings(max_examples=150, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_fuzzed_files_never_escape_as_other_errors(data):
    """Random byte edits of valid files: a usable image or an ImageError, nothing else."""
    base = data.draw(st.sampled_from([CORPUS[n][0] for n in ("ok.png", "ok.jpg", "ok.webp", "animated.gif",
                                                              "ok.bmp", "ok.tiff")]))
    edits = data.draw(st.lists(st.tuples(st.integers(0, len(base) - 1), st.integers(0, 255)), max_size=8))
    cut = data.draw(st.integers(1, len(base)))
    blob = bytearray(base[:cut])
    for pos, value in edits:
        if pos < len(blob):
            blob[pos] = value
    try:
        p = prepare_image(bytes(blob), 64)
    except ImageError:
        return
    assert p.image.shape == (64, 64, 3) and np.isfinite(p.image).all()


@pytest.mark.slow
def test_the_page_survives_the_whole_corpus():
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    at.sidebar.radio(key="source").set_value("Upload").run()
    good = png_bytes(80, 80)
    names = sorted(CORPUS)
    random.Random(0).shuffle(names)
    for name in names:
        data, expect = CORPUS[name]
        at.sidebar.file_uploader(key="image_upload").set_value((name, data, "image/png")).run()
        assert not at.exception, (name, at.exception)
        if expect == "ok":
            assert not at.error, (name, [e.value for e in at.error])
            assert figure(at, "glances_chart")["frames"]
        else:
            assert any(expect in e.value for e in at.error), (name, [e.value for e in at.error])
            at.sidebar.file_uploader(key="image_upload").set_value(("good.png", good, "image/png")).run()
            assert not at.exception and not at.error, name


def test_far_from_training_warning_spares_the_gallery_and_flags_photos():
    from compute.images import domain_warnings, load_samples
    from model import load_model

    stats = load_model().metadata["input_stats"]
    assert all(domain_warnings(s.image, stats) == [] for s in load_samples())
    yy, xx = np.mgrid[0:96, 0:96] / 96.0
    bright = np.stack([xx, yy, 0.5 + 0 * xx], -1).astype(np.float32)  # a bright, colourful picture
    words = " ".join(domain_warnings(bright, stats))
    assert "brightness" in words and "saturation" in words
    assert domain_warnings(bright, None) == []  # a checkpoint without stats: nothing to compare
