"""Frames, figures and readouts built from a clean prediction and an attack run."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import pytest

from compute.images import load_samples
from compute.runs import DEFAULT_ATTACK, drift_steps, perturbation_norms, pull_readout, run_attack, step_size_from_255
from model import AttackConfig, load_model
from model.inference import predict
from model.metrics import box_mass, js_divergence, select_head
from viz.figures import drift_figure, frames_animation, glance_figure
from viz.frames import Display, Shown, export_frames, glance_frames, side_by_side


@pytest.fixture(scope="module")
def setup():
    model = load_model()
    sample = load_samples()[1]
    clean = predict(model, sample.image, 4)
    run = run_attack(model, sample.image, sample.label, 4, AttackConfig(eps=32 / 255, steps=10), seed=0)
    return model, sample, clean, run


def test_drift_steps_spread_and_keep_both_ends():
    assert drift_steps(5) == [0, 1, 2, 3, 4, 5]
    steps = drift_steps(200, 24)
    assert steps[0] == 0 and steps[-1] == 200 and len(steps) == 24
    with pytest.raises(ValueError):
        drift_steps(-1)


def test_attack_run_is_seeded_and_in_the_ball(setup):
    model, sample, _, run = setup
    again = run_attack(model, sample.image, sample.label, 4, AttackConfig(eps=32 / 255, steps=10), seed=0)
    assert np.array_equal(run.image, again.image)
    assert np.abs(run.image - sample.image).max() <= 32 / 255 + 1e-6
    assert run.drift.labels[0] == "step 0" and run.drift.images.shape[1:] == (96, 96, 3)
    assert run.drift.attention.shape[1:3] == (4, 4)
    np.testing.assert_allclose(run.drift.images[-1], run.image, atol=1e-6)  # ends at the result
    assert run.success == (run.prediction.label == run.target)


def test_glance_frames_mark_the_peak_and_select_heads(setup):
    _, sample, clean, _ = setup
    frames = glance_frames(sample.image, clean.attention, Display(head=2, zoom=2), box=sample.box)
    assert frames.shape == (4, 192, 192, 3) and frames.dtype == np.uint8
    np.testing.assert_allclose(select_head(clean.attention, None), clean.attention.mean(axis=1))
    with pytest.raises(ValueError, match="head must be"):
        select_head(clean.attention, 4)
    with pytest.raises(ValueError, match="cmap"):
        glance_frames(sample.image, clean.attention, Display(cmap="rainbow"))


def test_figures_are_valid_plotly_with_one_frame_per_glance(setup):
    model, sample, clean, run = setup
    names = model.metadata["class_names"]
    fig = glance_figure(Shown(sample.image, clean, run, names, sample.box), Display(head=1))
    spec = fig.to_dict()
    go.Figure(spec)  # plotly's own validator accepts the hand-built figure
    assert len(spec["frames"]) == 4 and all(len(f["data"]) == 4 for f in spec["frames"])
    last_path = spec["frames"][-1]["data"][1]
    assert len(last_path["x"]) == 4  # the scanpath grows to every glance
    drift = drift_figure(run, names, sample.box, Display()).to_dict()
    go.Figure(drift)
    assert len(drift["frames"]) == len(run.drift.labels)
    with pytest.raises(ValueError, match="frames"):
        frames_animation([np.zeros((2, 8, 8, 3), np.uint8)], ["a"], ["only one label"])


def test_export_frames_put_clean_and_adversarial_side_by_side(setup):
    model, sample, clean, run = setup
    frames = export_frames(Shown(sample.image, clean, run, model.metadata["class_names"], sample.box), Display(zoom=2))
    assert frames.shape == (4, 192 + 18, 2 * 192 + 4, 3)
    single = export_frames(Shown(sample.image, clean, None, model.metadata["class_names"]), Display(zoom=2))
    assert single.shape == (4, 210, 192, 3)
    with pytest.raises(ValueError):
        side_by_side([frames, single], [["a"] * 4, ["b"] * 4])


def test_pull_readout_matches_the_metrics(setup):
    _, sample, clean, run = setup
    r = pull_readout(clean, run, (96, 96), sample.box, head=None)
    a, b = clean.attention.mean(axis=1), run.prediction.attention.mean(axis=1)
    np.testing.assert_allclose(r["js"], js_divergence(a, b))
    np.testing.assert_allclose(r["mass_clean"], box_mass(a, np.array(sample.box), (96, 96)))
    np.testing.assert_allclose(r["mass_adv"], box_mass(b, np.array(sample.box), (96, 96)))
    assert "mass_clean" not in pull_readout(clean, run, (96, 96), None)


def test_perturbation_norms():
    x = np.zeros((4, 4, 3))
    y = x.copy()
    y[0, 0, 0] = 8 / 255
    n = perturbation_norms(x, y)
    assert n["linf_255"] == pytest.approx(8) and n["l2"] == pytest.approx(8 / 255)
    assert n["changed"] == pytest.approx(1 / 48)


def test_display_rejects_bad_values():
    with pytest.raises(ValueError, match="alpha"):
        Display(alpha=2)
    with pytest.raises(ValueError, match="zoom"):
        Display(zoom=0)


def test_step_size_from_255_reads_the_command_lines_value():
    assert step_size_from_255("auto") is None and step_size_from_255(" AUTO ") is None
    assert step_size_from_255("2") == 2 / 255 == DEFAULT_ATTACK.step_size
    for bad in ("0", "-1", "nan", "inf", "two", ""):
        with pytest.raises(ValueError, match="step size"):
            step_size_from_255(bad)
