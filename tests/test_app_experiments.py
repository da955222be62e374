"""The paper's experiments in the page, driven with AppTest: two models on one attack, attacker
against defender glances, the race, the batch view, and shareable links. Every number shown is
checked against a direct call of the public API on the same inputs."""

from __future__ import annotations

import csv
import io
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import streamlit as st
from PIL import Image
from streamlit.testing.v1 import AppTest

from compute.images import load_samples
from compute.runs import DEFAULT_ATTACK, run_attack, run_attacks
from compute.studies import GLANCE_COUNTS, image_race, race_beside
from model import AttackConfig, ModelConfig, build_model, save_checkpoint
from model.checkpoint import DEFAULT_CHECKPOINT, read_metadata
from model.inference import predict

from .conftest import ROOT, figure, linked_page, open_tab
from .conftest import run_attack as click_attack

ASSETS = DEFAULT_CHECKPOINT.parent

CFG = DEFAULT_ATTACK  # the page's default attack


def page(**params: str) -> AppTest:
    return linked_page(120, **params)


def use_sidebar_budget(at: AppTest, key: str) -> None:
    """Run an experiment view with the sidebar's attack (a choice offered when its own differs)."""
    if any(r.key == key for r in at.radio):
        at.radio(key=key).set_value("sidebar").run()


def shown_adversarial(at: AppTest) -> str:
    return next(m.value for m in at.markdown if m.value.startswith("**Adversarial: "))[len("**Adversarial: "):-2]


@pytest.mark.slow
def test_compare_two_models_on_the_same_attack(form, baseline, downloads):
    sample = load_samples()[3]
    at = page(sample=sample.name, seed="3", tab="Compare models")
    assert at.selectbox(key="compare_model").value.startswith("baseline_default")
    use_sidebar_budget(at, "compare_budget")  # the sidebar's attack, as computed below
    at.button(key="run_compare").click().run()
    assert not at.exception, at.exception
    names = form.metadata["class_names"]
    alone = [run_attack(m, sample.image, sample.label, 4, CFG, seed=3) for m in (form, baseline)]
    assert alone[0].target == alone[1].target  # one attack: the same target for both
    spec = figure(at, "compare_chart")
    titles = [a["text"] for a in spec["layout"]["annotations"]]
    for title, run, stem in zip(titles, alone, ("s3ta_default", "baseline_default")):
        assert title.startswith(f"{stem}: {names[run.prediction.label]} ({run.prediction.probs.max():.0%})")
        assert ("reached" if run.success else "missed") in title
    assert "(no attention)" in titles[1] and "(no attention)" not in titles[0]
    sheet = np.asarray(Image.open(io.BytesIO(downloads["compare_png"])))
    assert sheet.shape == (2 * (288 + 18) + 4, 3 * 288 + 2 * 4, 3)  # a row of three captioned panels per model
    assert b"Plotly.newPlot" in downloads["compare_html"]


def test_compare_default_is_a_baseline_of_the_same_task_else_baseline_default():
    from compute.catalog import Entry, compare_default

    def entry(stem, arch, task=None):
        meta = {"config": {"arch": arch}, **({"task": task} if task else {})}
        return Entry(stem, Path(f"/m/{stem}.safetensors"), meta)

    entries = [entry("s3ta_default", "s3ta"), entry("baseline_cued", "baseline", "cued"),
               entry("baseline_default", "baseline")]
    assert compare_default(entries, "cued", "plain").path.stem == "baseline_cued"
    assert compare_default(entries, "plain", "plain").path.stem == "baseline_default"  # no task recorded: the default
    assert compare_default(entries, "other", "plain").path.stem == "baseline_default"
    assert compare_default(entries[:1], "other", "plain").path.stem == "s3ta_default"


def test_race_is_drawn_beside_the_stored_race_of_the_same_tasks_baseline():
    from compute.catalog import Entry, race_baseline

    def entry(stem, arch, task=None, race=True):
        meta = {"config": {"arch": arch}, **({"task": task} if task else {}),
                **({"metrics": {"race": {"rows": []}}} if race else {})}
        return Entry(stem, Path(f"/m/{stem}.safetensors"), meta)

    entries = [entry("s3ta_default", "s3ta"), entry("s3ta_cued", "s3ta", "cued"),
               entry("baseline_cued", "baseline", "cued"), entry("baseline_default", "baseline")]
    assert race_baseline(entries, entries[1].metadata, True, "plain").path.stem == "baseline_cued"
    assert race_baseline(entries, entries[0].metadata, True, "plain").path.stem == "baseline_default"
    assert race_baseline(entries, entries[3].metadata, False, "plain") is None  # a baseline has no race of its own kind
    assert race_baseline(entries, {"task": "other"}, True, "plain") is None  # no baseline of that task: none drawn
    assert race_baseline([entries[1], entry("baseline_cued", "baseline", "cued", race=False)],
                         entries[1].metadata, True, "plain") is None  # a baseline without a stored race
    row = {"model": "m", "glances": 1, "target": "random", "eps_255": 8.0, "steps": 50, "acc": 0.5}
    other = [dict(row, model="b"), dict(row, model="b", eps_255=32.0)]
    assert race_beside([row], other) == [row, other[0]]  # only the settings the model's race has
    assert race_beside([row], None) == [row]


def test_compare_starts_with_the_baseline_of_the_models_own_task():
    at = page(model="s3ta_cued", sample="test_0002.png", tab="Compare models")
    assert at.selectbox(key="compare_model").value.startswith("baseline_cued")
    default = next(o for o in at.sidebar.selectbox(key="model_choice").options if o.startswith("s3ta_default"))
    at.sidebar.selectbox(key="model_choice").set_value(default).run()
    assert not at.exception, at.exception
    assert at.selectbox(key="compare_model").value.startswith("baseline_default")
    linked = page(model="s3ta_cued", sample="test_0002.png", tab="Compare models", compare="baseline_default")
    assert linked.selectbox(key="compare_model").value.startswith("baseline_default")  # a link's pick stands


def test_a_second_model_with_other_classes_is_not_offered(tmp_path, monkeypatch):
    """One attack cannot aim two models with other classes at one target: Compare lists only the
    models it can compare (the check on the loaded models stays behind it, ``incompatibility``)."""
    other = build_model(ModelConfig(num_classes=3, backbone_widths=(4, 8, 8), key_channels=4, value_channels=4,
                                    lstm_size=8, query_hidden=8, head_hidden=8, heads=1))
    save_checkpoint(other, tmp_path / "three_classes.safetensors", {"class_names": ["a", "b", "c"]})
    monkeypatch.setenv("S3TA_MODELS_DIR", str(tmp_path))
    st.cache_data.clear()  # the catalogue is cached for 30 s
    try:
        at = page(tab="Compare models")
        assert not at.exception and not at.error, at.exception
        options = at.selectbox(key="compare_model").options
        assert options and not any(o.startswith("three_classes") for o in options)
        assert any(o.startswith("baseline_default") for o in options)
        assert figure(at, "glances_chart")["frames"]  # the rest of the page still works
    finally:
        st.cache_data.clear()


def test_the_defender_reads_the_attack_at_another_count_without_reattacking(form):
    sample = load_samples()[1]
    at = page(sample=sample.name, seed="11", attack_glances="2", glances="2")
    click_attack(at)
    at.sidebar.slider(key="glances").set_value(8).run()
    assert not at.exception, at.exception
    adv = run_attack(form, sample.image, sample.label, 2, CFG, seed=11)
    read = predict(form, adv.image, 8)
    names = form.metadata["class_names"]
    assert shown_adversarial(at) == names[read.label]
    probs = [p.value for p in at.get("progress")][5:]
    assert abs(max(probs) / 100 - read.probs.max()) <= 0.01
    assert any(c.value.startswith("Crafted against 2 glances, read here at 8") for c in at.caption)
    assert len(figure(at, "glances_chart")["frames"]) == 8


@pytest.mark.slow
def test_glance_grid_equals_direct_attacks_read_at_each_count(form):
    sample = load_samples()[0]
    at = page(sample=sample.name, seed="4", tab="Glance grid")
    use_sidebar_budget(at, "grid_budget")  # the sidebar's attack, as computed below
    at.button(key="run_grid").click().run()
    assert not at.exception, at.exception
    z = np.array(figure(at, "grid_chart")["data"][0]["z"])
    assert z.shape == (1 + len(GLANCE_COUNTS), len(GLANCE_COUNTS))
    # the five attacks run side by side, as the grid runs them
    crafted = run_attacks(form, [sample.image] * len(GLANCE_COUNTS), [sample.label] * len(GLANCE_COUNTS),
                          list(GLANCE_COUNTS), CFG, seed=4)
    for i, adv in enumerate(crafted):
        for j, m in enumerate(GLANCE_COUNTS):
            assert z[1 + i, j] == pytest.approx(predict(form, adv.image, m).probs[sample.label], abs=1e-5)
    for j, m in enumerate(GLANCE_COUNTS):
        assert z[0, j] == pytest.approx(predict(form, sample.image, m).probs[sample.label], abs=1e-5)


@pytest.mark.slow
def test_race_from_metadata_and_on_this_image(form):
    sample = load_samples()[2]
    at = page(sample=sample.name, steps="10", tab="Race")
    spec = figure(at, "race_dataset_chart")
    stored = {m: read_metadata(ASSETS / f"{m}.safetensors")["metrics"]["race"]["rows"]
              for m in ("s3ta_default", "baseline_default")}
    drawn = {m: 0 for m in stored}
    eps = float(at.selectbox(key="race_setting").value.split("eps ")[1].split("/")[0])  # the setting drawn
    for trace in spec["data"]:  # the model's race and, dashed, its task's baseline from the baseline's checkpoint
        model, count = trace["name"].split(", ")
        g = int(count.split()[0])
        rows = [r for r in stored[model] if r["target"] == "random" and r["eps_255"] == eps and r["glances"] == g]
        assert trace["y"] == [r["acc"] for r in sorted(rows, key=lambda r: r["steps"])] and rows
        assert (trace["line"]["dash"] == "dash") == (model == "baseline_default")
        drawn[model] += 1
    assert drawn["s3ta_default"] >= 4 and drawn["baseline_default"] == 1
    assert "Dashed: baseline_default" in " ".join(c.value for c in at.caption)
    use_sidebar_budget(at, "race_budget")  # the sidebar's attack, as computed below
    at.button(key="run_race").click().run()
    assert not at.exception, at.exception
    lines = figure(at, "race_image_chart")["data"]
    direct = image_race(form, sample.image, sample.label, replace(CFG, steps=10), seed=0)
    assert [line["name"] for line in lines] == [f"{g} glance{'s' if g > 1 else ''}" for g in direct.glances]
    for line, probs in zip(lines, direct.true_probs):
        np.testing.assert_allclose(line["y"], probs, atol=1e-6)
        assert line["x"] == list(direct.steps)


@pytest.mark.slow
def test_batch_of_the_gallery_with_csv(form, downloads):
    at = page(tab="Batch", steps="5")
    at.button(key="run_batch").click().run()
    assert not at.exception, at.exception
    cfg = replace(CFG, steps=5)  # the page's default attack, with 5 steps
    samples = load_samples()
    direct = [run_attack(form, s.image, s.label, 4, cfg, seed=0) for s in samples]
    metric = next(m for m in at.metric if m.label == "Attacks that reached their goal")
    assert metric.value == f"{sum(r.success for r in direct)} of {len(samples)}"
    table = list(csv.DictReader(io.StringIO(downloads["batch_csv"].decode())))
    names = form.metadata["class_names"]
    assert [r["image"] for r in table] == [s.name for s in samples]
    assert [r["adversarial_prediction"] for r in table] == [names[r.prediction.label] for r in direct]
    assert all(0 <= float(r["mass_in_box_clean"]) <= 1 for r in table)


def test_a_link_reproduces_the_page_and_its_attack(form):
    sample = load_samples()[5]
    at = page(sample=sample.name, glances="6", attack_glances="6", eps="16", steps="15", step_size="4", seed="21",
              target="class", target_class="Bag", head="1", cmap="viridis", tab="Perturbation", attack="1")
    assert at.session_state["sample"].endswith(f"({sample.name})")
    assert at.sidebar.slider(key="glances").value == 6 and at.sidebar.slider(key="eps").value == 16
    assert at.sidebar.radio(key="head").value == "1" and at.sidebar.selectbox(key="cmap").value == "viridis"
    names = form.metadata["class_names"]
    assert at.sidebar.select_slider(key="step_size").value == "4"
    cfg = AttackConfig(eps=16 / 255, steps=15, step_size=4 / 255, target="class", target_class=names.index("Bag"))
    adv = run_attack(form, sample.image, sample.label, 6, cfg, seed=21)  # run again from the seed
    assert shown_adversarial(at) == names[adv.prediction.label]
    assert any(m.label == "L-inf" for m in at.metric)  # the linked tab is open, with the attack
    params = dict(at.query_params)
    assert params["sample"] == sample.name and params["attack"] == "1" and params["target_class"] == "Bag"
    assert params["step_size"] == "4"


def test_a_link_with_bad_values_opens_a_working_page():
    at = page(model="../../etc/passwd", sample="nope.png", glances="1e9", eps="-3", steps="abc", seed="1.5",
              head="7", alpha="inf", tab="<script>", target="everything", early_stop="maybe", attack="1",
              step_size="3", compare="x" * 500)
    warnings = " ".join(w.value for w in at.warning)
    for key in ("model", "sample", "glances", "eps", "steps", "seed", "head", "alpha", "tab", "target", "early_stop",
                "step_size"):
        assert f"'{key}=" in warnings, key
    assert "'compare' in the link is 500 characters long" in warnings
    assert at.sidebar.slider(key="glances").value == 4 and at.sidebar.slider(key="steps").value == DEFAULT_ATTACK.steps
    assert float(at.sidebar.select_slider(key="step_size").value) / 255 == DEFAULT_ATTACK.step_size
    assert figure(at, "glances_chart")["frames"]
    assert any(m.value.startswith("**Adversarial: ") for m in at.markdown)  # attack=1 was valid: it ran
    params = dict(at.query_params)
    assert params["model"] == "s3ta_default" and params["glances"] == "4"  # the URL now says what is shown
    open_tab(at, "Gallery")


def test_link_decoding_rules():
    from ui.links import Field, decode, encode
    fields = [Field("n", "int", 1, 5), Field("x", "float", 0, 1), Field("c", "choice", choices=("a", "b")),
              Field("b", "bool")]
    values, problems = decode({"n": ["3", "9"], "x": "0.25", "c": "b", "b": "1", "other": "?"}, fields)
    assert values == {"n": 3, "x": 0.25, "c": "b", "b": True} and problems == []
    values, problems = decode({"n": "2.5", "x": "nan", "c": "A", "b": "yes"}, fields)
    assert values == {} and len(problems) == 4
    assert "a whole number from 1 to 5" in problems[0]
    assert encode({"n": 3, "x": 0.25, "b": False, "none": None}) == {"n": "3", "x": "0.25", "b": "0"}
    with pytest.raises(ValueError, match="kind"):
        Field("k", "list")


def test_grid_and_race_need_glances(baseline):
    at = page(model="baseline_default", tab="Glance grid")
    assert any("no glances" in i.value for i in at.info)
    open_tab(at, "Race")
    assert any("no glances" in c.value for c in at.caption)


def test_studies_reject_bad_batches(form):
    from compute.lab import Lab, Subject
    with pytest.raises(ValueError, match="batch holds 1 to"):
        Lab().batch([], CFG, 0)
    s = load_samples()[0]
    subject = Subject(form, "k", s.image, "i", s.name, s.label, s.box, 4)
    with pytest.raises(ValueError, match="batch holds 1 to"):
        Lab().batch([subject] * 25, CFG, 0)


def test_experiment_views_open_on_the_budget_that_answers_them_and_say_so():
    """Compare opens where the stored races of the pair differ most, the grid and the race where
    the glance count matters most; each says which attack it runs and offers the sidebar's when
    that is another budget."""
    from compute.studies import compare_setting, dataset_race, glance_setting
    from model import load_model

    s3ta, base = load_model(), load_model(ROOT / "assets" / "baseline_default.safetensors")
    sidebar = "L-inf 32/255, PGD-50 of 2/255 towards a random wrong class"
    for tab, key, setting in (
            ("Compare models", "compare_budget", compare_setting(dataset_race(s3ta.metadata), 4,
                                                                 dataset_race(base.metadata), ("a", "b"))),
            ("Glance grid", "grid_budget", glance_setting(dataset_race(s3ta.metadata))),
            ("Race", "race_budget", glance_setting(dataset_race(s3ta.metadata)))):
        at = page(tab=tab)
        used = [c.value for c in at.caption if c.value.startswith("Attack used here:")]
        if setting.eps_255 == 32:  # the sidebar's budget is the view's own: nothing to choose
            assert used == [f"Attack used here: {sidebar}: the sidebar's budget is also the one {setting.why}."]
            assert not [r for r in at.radio if r.key == key]
            continue
        assert at.radio(key=key).value == "view"
        want = f"Attack used here: L-inf {setting.eps_255:g}/255, PGD-50 of 2/255 towards a random wrong class."
        assert used == [want]
        at.radio(key=key).set_value("sidebar").run()
        assert [c.value for c in at.caption if c.value.startswith("Attack used here:")] == [
            f"Attack used here: {sidebar}."]


def test_incompatibility_names_what_differs():
    from compute.studies import incompatibility
    tiny = {"backbone_widths": (4, 8, 8), "key_channels": 4, "value_channels": 4, "lstm_size": 8, "query_hidden": 8,
            "head_hidden": 8, "heads": 1}
    ten, three = build_model(ModelConfig(**tiny)), build_model(ModelConfig(num_classes=3, **tiny))
    small = build_model(ModelConfig(image_size=64, **tiny))
    assert incompatibility(ten, build_model(ModelConfig(**tiny))) is None
    assert "different classes" in incompatibility(ten, three)
    assert "input sizes (96 and 64 px)" in incompatibility(ten, small)


def test_an_upload_keeps_in_the_link_what_a_link_can_carry():
    """An uploaded image cannot travel in a link; the model, the attack and the view still do."""
    data = (ROOT / "assets" / "samples" / "test_0001.png").read_bytes()
    at = page(model="baseline_default", eps="16", tab="Perturbation")
    at.sidebar.radio(key="source").set_value("Upload").run()
    at.sidebar.file_uploader(key="image_upload").set_value(("mine.png", data, "image/png")).run()
    assert not at.exception, at.exception
    params = dict(at.query_params)
    assert params["model"] == "baseline_default" and params["eps"] == "16" and params["tab"] == "Perturbation"
    assert "sample" not in params and params["attack"] == "0"
