"""The experiment views' drawings, from hand-made records: the sweep's panels leave out what does
not apply and say so, its strip has a cell per model and budget, and the belief's figure and
picture put each glance where its coordinates say, in the colour of the class read."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from model.records import BeliefPath, Box, StrengthSweep
from viz.belief import belief_figure, belief_image
from viz.figures import _colour
from viz.frames import Display
from viz.sweep import sweep_figure, sweep_strip

NAMES = ["cat", "dog", "cow"]
BUDGETS = (0.0, 4.0, 16.0)


def sweep(name: str = "m", attends: bool = True, box: bool = True, targeted: bool = True) -> StrengthSweep:
    probs = np.array([[0.8, 0.1, 0.1], [0.5, 0.1, 0.4], [0.1, 0.1, 0.8]])
    images = np.random.default_rng(0).random((3, 16, 16, 3)).astype(np.float32)
    attention = np.full((3, 2, 4, 4), 1 / 16)
    return StrengthSweep(name, BUDGETS, 0, 2, targeted, attends, 4, images, np.array([False, False, True]), probs,
                         attention, np.array([0.6, 0.4, 0.1]) if box else None, np.array([0.0, 4.0, 16.0]), 0.1)


def traces(fig, axis: str) -> list:
    return [t for t in fig.data if (t.xaxis or "x") == axis]


def test_the_sweep_figure_draws_each_reading_per_model_against_the_budget():
    fig = sweep_figure([sweep("a"), sweep("b")], NAMES, box_share=0.12)
    assert len(fig.data) == 8  # success, P(true), P(target), mass: one line per model each
    p_true = traces(fig, "x2")
    assert [t.name for t in p_true] == ["a", "b"] and list(p_true[0].x) == ["0", "4", "16"]
    assert np.allclose(p_true[0].y, [0.8, 0.5, 0.1]) and np.allclose(traces(fig, "x3")[0].y, [0.1, 0.4, 0.8])
    assert np.allclose(traces(fig, "x")[0].y, [0, 0, 1]) and np.allclose(traces(fig, "x4")[1].y, [0.6, 0.4, 0.1])
    titles = [a.text for a in fig.layout.annotations]
    assert "P(cat), the true class" in titles and "P(cow), the target" in titles
    assert any(s.y0 == 0.12 for s in fig.layout.shapes)  # uniform attention's share of the box
    assert [t.showlegend for t in fig.data] == [True, False, False, False] * 2


def test_panels_that_do_not_apply_are_left_out_and_say_why():
    fig = sweep_figure([sweep("a"), sweep("base", attends=False)], NAMES)
    assert [t.name for t in traces(fig, "x4")] == ["a"]  # no attention: no mass line
    untargeted = sweep_figure([sweep(targeted=False)], NAMES)
    assert not traces(untargeted, "x3")
    assert "P(target): untargeted attack, no target" in [a.text for a in untargeted.layout.annotations]
    boxless = sweep_figure([sweep(box=False)], NAMES, box_share=None)
    assert not traces(boxless, "x4") and "no box on this image" in " ".join(a.text for a in boxless.layout.annotations)
    pooled = sweep_figure([sweep(attends=False)], NAMES)
    assert "no model here has attention" in " ".join(a.text for a in pooled.layout.annotations)


def test_the_strip_has_a_row_per_model_and_a_cell_per_budget():
    strip = sweep_strip([sweep("a"), sweep("base", attends=False)], NAMES, Box(2, 2, 10, 10), Display())
    cell = 16 * 8 + 18  # the small map (auto zoom 8 for 16 px) under its caption
    assert strip.dtype == np.uint8 and strip.shape == (2 * cell + 4, 4 * 128 + 3 * 4, 3)
    # the name cell, then one cell per budget; the rows differ (attention over the image, or the image alone)
    assert not np.array_equal(strip[:cell, 132:260], strip[cell + 4:, 132:260])


@pytest.fixture
def paths() -> list[tuple[str, BeliefPath]]:
    clean = BeliefPath(np.array([[0.0, 0.0], [1.0, 1.0]]), np.array([0, 0]), np.array([0.6, 0.9]))
    adv = BeliefPath(np.array([[0.0, 0.0], [-1.0, 2.0]]), np.array([0, 2]), np.array([0.6, 0.7]))
    return [("clean", clean), ("adversarial", adv)]


def test_the_belief_figure_numbers_glances_and_colours_them_by_class(paths):
    clouds = np.random.default_rng(0).normal(size=(3, 5, 2))
    fig = belief_figure(clouds, paths, NAMES)
    assert [t.name for t in fig.data] == NAMES + ["clean", "adversarial"]
    assert np.allclose(fig.data[1].x, clouds[1, :, 0])
    adv = fig.data[-1]
    assert list(adv.text) == ["1", "2"] and list(adv.marker.color) == [_colour(0), _colour(2)]
    assert np.allclose(adv.x, [0, -1]) and np.allclose(adv.y, [0, 2]) and adv.line.dash == "dash"
    assert "glance 2: cow (70%)" in adv.hovertext[1]
    assert fig.layout.yaxis.scaleanchor == "x"  # equal scales


def test_the_belief_picture_puts_each_glance_where_its_coordinates_say(paths):
    clouds = np.zeros((3, 1, 2))
    image = belief_image(clouds, paths, NAMES, size=200, legend=100)
    assert image.shape == (200, 300, 3) and image.dtype == np.uint8
    # the plane spans [-1, 1] x [0, 2]: (-1, 2) is the top-left corner inside the margin, filled with cow's colour
    r, g, b = (int(_colour(2)[i:i + 2], 16) for i in (1, 3, 5))
    assert np.abs(image[24, 30].astype(int) - [r, g, b]).max() < 40  # beside the white glance number
    assert (image[100:, :200] == 255).all(axis=-1).mean() > 0.9  # the lower half of the plane is empty
    with pytest.raises(ValueError):
        belief_image(clouds[:, :0], [("clean", replace(paths[0][1], points=np.zeros((0, 2))))], NAMES)
