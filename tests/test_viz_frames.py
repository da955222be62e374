"""Overlays: shapes, ranges, and that the heat lands where the attention is."""

import numpy as np
import pytest

from viz.frames import draw_box, enlarge, heatmap, overlay, upsample


def test_upsample_keeps_mass_and_overlay_marks_the_attended_cell():
    a = np.zeros((4, 4))
    a[1, 2] = 1.0
    up = upsample(a, (32, 32))
    assert up.shape == (32, 32) and up.sum() == pytest.approx(1.0, rel=1e-5)
    image = np.zeros((32, 32, 3), np.float32)
    out = overlay(image, a, alpha=1.0)
    assert out.dtype == np.uint8 and out.shape == (32, 32, 3)
    hot = np.unravel_index(out.sum(-1).argmax(), (32, 32))
    assert 8 <= hot[0] < 16 and 16 <= hot[1] < 24  # inside cell (1, 2)
    assert out[0, 0].sum() == 0  # unattended: the (black) image shows through


def test_heatmap_and_box_and_enlarge():
    assert heatmap(np.ones((2, 2)) / 4, (8, 8)).shape == (8, 8, 3)
    with pytest.raises(ValueError, match="cmap"):
        heatmap(np.ones((2, 2)), (8, 8), cmap="rainbow")
    with pytest.raises(ValueError, match="alpha"):
        overlay(np.zeros((8, 8, 3)), np.ones((2, 2)), alpha=2)
    img = draw_box(np.zeros((10, 10, 3), np.uint8), (2, 3, 6, 8))
    assert img[3, 2].tolist() == [0, 255, 0] and img[7, 5].tolist() == [0, 255, 0]
    assert img[5, 4].tolist() == [0, 0, 0]
    big = enlarge(np.arange(4).reshape(2, 2, 1), 3)
    assert big.shape == (6, 6, 1) and big[5, 5, 0] == 3 and big[0, 2, 0] == 0
