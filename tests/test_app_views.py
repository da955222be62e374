"""The Strength sweep and Belief path views in the page, driven with AppTest: what they draw equals
a direct call of the computing layer on the same inputs, their settings travel in the link, bad
budgets get a message saying what is allowed, and models they do not apply to say why."""

from __future__ import annotations

import csv
import io
from dataclasses import replace

import numpy as np
import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

from compute.belief import belief_path
from compute.images import load_samples
from compute.runs import DEFAULT_ATTACK, run_attack
from compute.sweep import strength_sweep

from .conftest import figure, linked_page, open_tab

CFG = replace(DEFAULT_ATTACK, steps=4)  # the page's attack, shorter (steps=4 in the links below)


def page(**params: str) -> AppTest:
    return linked_page(300, **params)


def lines(spec: dict, axis: str) -> dict[str, list[float]]:
    return {t["name"]: t["y"] for t in spec["data"] if t.get("xaxis", "x") == axis}


@pytest.mark.slow
def test_the_sweep_draws_both_models_as_the_computing_layer_does(form, baseline, downloads):
    sample = load_samples()[3]
    at = page(sample=sample.name, seed="3", steps="4", tab="Strength sweep", sweep_eps="0,4,16")
    assert at.selectbox(key="sweep_with").value == "baseline_default"  # the listed partner, as Compare opens on
    assert at.text_input(key="sweep_eps").value == "0, 4, 16"
    at.button(key="run_sweep").click().run()
    assert not at.exception, at.exception
    direct = [strength_sweep(m, n, sample.image, sample.label, CFG, (0, 4, 16), 4, 3, sample.box)
              for m, n in ((form, "s3ta_default"), (baseline, "baseline_default"))]
    spec = figure(at, "sweep_chart")
    p_true = lines(spec, "x2")
    for s in direct:
        assert np.allclose(p_true[s.model_name], s.true_probs, atol=1e-5)
        assert np.allclose(lines(spec, "x")[s.model_name], s.success.astype(float))
    assert list(lines(spec, "x4")) == ["s3ta_default"]  # the baseline has no attention mass to draw
    rows = list(csv.DictReader(io.StringIO(downloads["sweep_csv"].decode())))
    assert [(r["model"], r["eps_255"]) for r in rows] == [(m, e) for m in ("s3ta_default", "baseline_default")
                                                          for e in ("0", "4", "16")]
    assert float(rows[2]["p_target"]) == pytest.approx(direct[0].target_probs[2], abs=1e-4)
    strip = np.asarray(Image.open(io.BytesIO(downloads["sweep_png"])))
    assert strip.shape[0] == 2 * (192 + 18) + 4  # a row of small maps per model
    assert b"Plotly.newPlot" in downloads["sweep_html"]
    assert not [b for b in at.button if b.key in ("run_sweep", "stop_sweep")]  # done: nothing to run
    params = dict(at.query_params)
    assert params["sweep_eps"] == "0, 4, 16" and params["sweep_with"] == "baseline_default"


@pytest.mark.slow
def test_a_finished_model_stays_when_the_second_one_changes():
    """Each model's sweep is kept on its own: picking another second model draws the first at once
    and offers to run only the new one."""
    at = page(steps="4", seed="11", tab="Strength sweep", sweep_eps="0,8")
    at.button(key="run_sweep").click().run()
    at.selectbox(key="sweep_with").set_value("s3ta_clean").run()
    assert not at.exception, at.exception
    assert list(lines(figure(at, "sweep_chart"), "x2")) == ["s3ta_default"]
    assert "Run the sweep on s3ta_clean" in at.button(key="run_sweep").label
    assert any("s3ta_clean not swept yet" in c.value for c in at.caption)


def test_bad_budgets_say_what_is_allowed_and_the_page_keeps_working():
    at = page(tab="Strength sweep", steps="4")
    for text, says in (("0, 2, 300", "300 is outside 0 to 255"), ("2, x", "'x' is not a number"),
                       (", ".join(map(str, range(13))), "13 budgets is too many for one batch")):
        at.text_input(key="sweep_eps").set_value(text).run()
        assert not at.exception, at.exception
        assert [e.value for e in at.error] == [f"These budgets cannot be swept: {says}; write 1 to 12 numbers from "
                                               "0 to 255 (in /255), separated by commas, e.g. 0, 2, 4, 8, 16, 32."]
        assert not [b for b in at.button if b.key == "run_sweep"]
        assert "sweep_eps" not in dict(at.query_params)  # the link keeps only a list it can reopen
        assert at.get("plotly_chart")  # the glances above still draw
    at = page(tab="Strength sweep", sweep_eps="0,2,999")
    assert any("'sweep_eps=0,2,999' in the link is not 1 to 12 numbers from 0 to 255" in w.value for w in at.warning)
    assert at.text_input(key="sweep_eps").value == "0, 2, 4, 8, 16, 32"


def test_a_second_model_of_other_classes_is_refused_with_the_reason():
    at = page(tab="Strength sweep", sweep_with="photo_attention")
    assert any("cannot be swept together: the two models know different classes" in e.value for e in at.error)
    assert at.button(key="run_sweep").label.startswith("Run the sweep on s3ta_default (6 budgets")
    at.selectbox(key="sweep_with").set_value("none").run()
    assert not at.error and at.button(key="run_sweep").label.startswith("Run the sweep on s3ta_default (")


@pytest.mark.slow
def test_the_belief_path_draws_the_clean_path_then_the_adversarial_one(form, downloads):
    sample = load_samples()[2]
    at = page(sample=sample.name, seed="2", steps="4", tab="Belief path")
    spec = figure(at, "belief_chart")
    clean = belief_path(form, sample.image, 16)
    drawn = {t["name"]: t for t in spec["data"]}
    assert set(form.class_names) | {"clean"} == set(drawn)
    assert np.allclose(drawn["clean"]["x"], clean.points[:, 0], atol=1e-6) and len(drawn["clean"]["x"]) == 16
    assert np.allclose(drawn[form.class_names[0]]["x"], form.projection.clouds[0, :, 0])
    at.button(key="run_belief").click().run()  # the sidebar's attack, from here
    assert not at.exception, at.exception
    run = run_attack(form, sample.image, sample.label, 4, CFG, seed=2)
    adv = next(t for t in figure(at, "belief_chart")["data"] if t["name"] == "adversarial")
    assert np.allclose(adv["y"], belief_path(form, run.image, 16).points[:, 1], atol=1e-5)
    rows = list(csv.DictReader(io.StringIO(downloads["belief_csv"].decode())))
    assert len(rows) == 32 and rows[16]["path"] == "adversarial" and rows[16]["glance"] == "1"
    assert np.asarray(Image.open(io.BytesIO(downloads["belief_png"]))).shape == (720, 890, 3)
    at.slider(key="path_glances").set_value(6).run()
    assert len(figure(at, "belief_chart")["data"][-1]["x"]) == 6 and dict(at.query_params)["path_glances"] == "6"
    assert page(tab="Belief path", path_glances="5").slider(key="path_glances").value == 5


def test_models_the_views_do_not_apply_to_say_why():
    at = page(model="baseline_default", tab="Belief path")
    assert any("has no glances" in i.value for i in at.info)
    at = page(model="photo_attention", tab="Belief path")
    assert any("its task (natural-photos) has none here" in i.value for i in at.info)
    open_tab(at, "Strength sweep")  # no listed model knows its classes: it is swept alone
    assert at.selectbox(key="sweep_with").value == "none"
    assert at.button(key="run_sweep").label.startswith("Run the sweep on photo_attention (6 budgets")


def test_an_l2_sidebar_attack_is_swept_in_l_inf_balls_with_the_protocols_step(form):
    sample = load_samples()[0]
    at = page(sample=sample.name, norm="l2", eps="1", steps="3", tab="Strength sweep", sweep_eps="0,16",
              sweep_with="none")
    assert any("made L-inf, with the protocol's step max(1/255, eps/steps)" in c.value for c in at.caption)
    at.button(key="run_sweep").click().run()
    assert not at.exception, at.exception
    cfg = replace(CFG, steps=3, step_size=None, eps=16 / 255)
    direct = strength_sweep(form, "s3ta_default", sample.image, sample.label, cfg, (0, 16), 4, 0, sample.box)
    assert np.allclose(lines(figure(at, "sweep_chart"), "x3")["s3ta_default"], direct.target_probs, atol=1e-5)
