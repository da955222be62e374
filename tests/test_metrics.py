"""Attention-shift metrics on hand-built maps."""

import math

import numpy as np
import pytest

from model.metrics import (
    attention_shift,
    box_mass,
    center_of_mass,
    com_shift,
    entropy,
    js_divergence,
    peaks,
)


def one_hot(h, w, i, j):
    a = np.zeros((h, w))
    a[i, j] = 1.0
    return a


def test_box_mass_with_cell_overlaps():
    a = np.full((4, 4), 1 / 16)  # each cell 8x8 px of a 32 px image
    assert box_mass(a, np.array([0, 0, 32, 32]), (32, 32)) == pytest.approx(1.0)
    assert box_mass(a, np.array([0, 0, 16, 16]), (32, 32)) == pytest.approx(0.25)
    # half of cell (0, 0) horizontally and all of it vertically
    assert box_mass(one_hot(4, 4, 0, 0), np.array([4, 0, 8, 8]), (32, 32)) == pytest.approx(0.5)
    assert box_mass(one_hot(4, 4, 3, 3), np.array([0, 0, 24, 24]), (32, 32)) == pytest.approx(0.0)


def test_box_mass_broadcasts_boxes_over_glances_and_heads():
    maps = np.zeros((2, 3, 4, 4, 4))  # (B, N, heads, h, w)
    maps[0, ..., 0, 0] = 1
    maps[1, ..., 3, 3] = 1
    boxes = np.array([[0, 0, 8, 8], [0, 0, 8, 8]])
    m = box_mass(maps, boxes, (32, 32))
    assert m.shape == (2, 3, 4)
    assert (m[0] == 1).all() and (m[1] == 0).all()


def test_entropy_and_js():
    uniform = np.full((2, 2), 0.25)
    assert entropy(uniform) == pytest.approx(math.log(4))
    assert entropy(one_hot(2, 2, 0, 0)) == pytest.approx(0.0)
    assert js_divergence(uniform, uniform) == pytest.approx(0.0, abs=1e-12)
    assert js_divergence(one_hot(2, 2, 0, 0), one_hot(2, 2, 1, 1)) == pytest.approx(math.log(2))


def test_centre_of_mass_shift_and_peaks():
    a, b = one_hot(4, 4, 0, 0), one_hot(4, 4, 0, 3)  # cell centres at x = 4 and 28 px
    np.testing.assert_allclose(center_of_mass(a, (32, 32)), [4, 4])
    assert com_shift(a, b, (32, 32)) == pytest.approx(24.0)
    half = 0.5 * (a + b)
    np.testing.assert_allclose(center_of_mass(half, (32, 32)), [16, 4])
    scan = peaks(np.stack([a, b]), (32, 32))
    np.testing.assert_allclose(scan, [[4, 4], [28, 4]])


def test_attention_shift_per_glance_and_head():
    clean = np.zeros((3, 2, 4, 4))  # (N, heads, h, w)
    adv = np.zeros((3, 2, 4, 4))
    clean[..., 0, 0] = 1  # on the item in the top-left cell
    adv[..., 3, 3] = 1  # pulled to the far corner
    adv[0] = clean[0]  # the first glance is unmoved
    r = attention_shift(clean, adv, (32, 32), box=np.array([0, 0, 8, 8]))
    assert r["js"].shape == (3, 2) and r["peaks_adv"].shape == (3, 2, 2)
    np.testing.assert_allclose(r["mass_clean"], 1.0)
    np.testing.assert_allclose(r["mass_adv"], [[1, 1], [0, 0], [0, 0]])
    np.testing.assert_allclose(r["com_shift"][1:], np.hypot(24, 24))
    np.testing.assert_allclose(r["js"][0], 0.0, atol=1e-12)
    np.testing.assert_allclose(r["js"][1:], math.log(2))
    with pytest.raises(ValueError, match="same shape"):
        attention_shift(clean, adv[:2], (32, 32))
