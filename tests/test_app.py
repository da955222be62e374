"""The app page, driven headless with streamlit's AppTest: gallery, upload, attack, display,
exports (decoded), model choice, bad input."""

from __future__ import annotations

import io
import json
import pickle

import cv2
import numpy as np
import pytest
import torch
from PIL import Image
from streamlit.testing.v1 import AppTest

import compute.lab
import model.inference_form as inference
from model.checkpoint import DEFAULT_CHECKPOINT

from .conftest import APP, ROOT, figure, open_tab, panels, run_attack


@pytest.fixture
def app():
    """A fresh page: the process-wide Lab (st.cache_resource) is emptied first, so results that
    other test files cached (links that ran the default attack) do not show up here."""
    import streamlit as st
    st.cache_resource.clear()
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    assert not at.exception, at.exception
    return at


@pytest.fixture
def counted(monkeypatch):
    """Counts the model runs behind the page: clean predictions and attacks."""
    calls = {"predict": 0, "attack": 0}
    real_predict, real_attack = compute.lab.predict, compute.lab.run_attack

    def predict(*a, **k):
        calls["predict"] += 1
        return real_predict(*a, **k)

    def attack(*a, **k):
        calls["attack"] += 1
        return real_attack(*a, **k)

    monkeypatch.setattr(compute.lab, "predict", predict)
    monkeypatch.setattr(compute.lab, "run_attack", attack)
    return calls


def test_first_page_shows_clean_glances_of_the_default_model(app):
    assert app.title[0].value == "S3TA Lab"
    assert "device: **cpu**" in app.caption[0].value
    spec = figure(app, "glances_chart")
    glances = app.sidebar.slider(key="glances").value
    assert len(spec["frames"]) == glances
    assert len(panels(spec)) == 1 and panels(spec)[0].startswith("clean: ")
    assert any(m.value.startswith("**Clean: ") for m in app.markdown)
    assert len(app.get("progress")) == 5  # top-5


@pytest.mark.parametrize("env,folded", [(None, True), ("0", False)])
def test_attacks_run_on_the_inference_form_unless_switched_off(monkeypatch, env, folded):
    if env is not None:
        monkeypatch.setenv("S3TA_INFERENCE_FORM", env)
    seen = []
    real = compute.lab.predict
    monkeypatch.setattr(compute.lab, "predict", lambda model, *a, **k: seen.append(model) or real(model, *a, **k))
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    at.sidebar.slider(key="glances").set_value(23).run()  # a count no other test caches
    assert not at.exception, at.exception
    assert ("inference form" in at.caption[0].value) == folded
    has_bn = any(isinstance(m, torch.nn.BatchNorm2d) for m in seen[-1].modules())
    assert has_bn != folded and (inference.source_of(seen[-1]) is not None) == folded


def test_sample_and_glance_count_change_the_animation(app):
    app.sidebar.slider(key="glances").set_value(9).run()
    spec = figure(app, "glances_chart")
    assert len(spec["frames"]) == 9
    assert [s["label"] for s in spec["layout"]["sliders"][0]["steps"]] == [f"glance {t}" for t in range(1, 10)]
    options = app.sidebar.selectbox(key="sample").options
    app.sidebar.selectbox(key="sample").set_value(options[3]).run()
    assert not app.exception
    first = figure(app, "glances_chart")["frames"][0]["data"][0]["source"]
    app.sidebar.selectbox(key="sample").set_value(options[4]).run()
    assert figure(app, "glances_chart")["frames"][0]["data"][0]["source"] != first


@pytest.mark.slow
def test_attack_shows_both_sides_pull_drift_and_perturbation(app):
    app.sidebar.slider(key="eps").set_value(32).run()
    app.sidebar.slider(key="steps").set_value(30).run()
    run_attack(app)
    spec = figure(app, "glances_chart")
    assert [p.split(":")[0] for p in panels(spec)] == ["clean", "adversarial"]
    assert len(spec["frames"][0]["data"]) == 4  # two images, two scanpaths
    assert any(m.value.startswith("**Adversarial: ") for m in app.markdown)
    assert any(c.value.startswith("The attack ") for c in app.caption)
    assert app.sidebar.button(key="run_attack").disabled  # cached: nothing to run

    open_tab(app, "Attention pull")
    table = app.dataframe[0].value
    assert list(table["glance"]) == list(range(1, 5))
    assert {"JS divergence (nats)", "mass in box, clean", "mass in box, adversarial"} <= set(table.columns)
    assert ((table["JS divergence (nats)"] >= 0) & (table["JS divergence (nats)"] <= np.log(2))).all()

    open_tab(app, "Attack drift")
    drift = figure(app, "drift_chart")
    labels = [s["label"] for s in drift["layout"]["sliders"][0]["steps"]]
    assert labels[0].startswith("step 0") and 2 <= len(drift["frames"]) <= 25

    open_tab(app, "Perturbation")
    linf = next(m for m in app.metric if m.label == "L-inf")
    assert 0 < float(linf.value.split()[0]) <= 32.0 + 1e-6


def test_display_only_controls_never_rerun_the_model(app, counted):
    run_attack(app)
    before = dict(counted)
    assert before["attack"] == 1
    app.sidebar.radio(key="head").set_value("2").run()
    app.sidebar.selectbox(key="cmap").set_value("viridis").run()
    app.sidebar.slider(key="alpha").set_value(0.3).run()
    open_tab(app, "Probabilities")
    assert not app.exception
    assert counted == before
    assert "head 2" in figure(app, "glances_chart")["layout"]["title"]["text"]
    app.sidebar.slider(key="glances").set_value(5).run()  # the defender: reads, never re-attacks
    assert counted["predict"] == before["predict"] + 2  # the clean image and the adversarial one at 5
    assert counted["attack"] == before["attack"]


def test_each_export_decodes_with_the_right_frames(app, tmp_path):
    app.sidebar.slider(key="glances").set_value(6).run()
    app.sidebar.slider(key="attack_glances").set_value(6).run()
    run_attack(app)
    open_tab(app, "Export")
    app.button(key="prepare_exports").click().run()
    assert not app.exception, app.exception
    files = app.session_state["exports"]["files"]
    labels = [b.label for b in app.get("download_button")]
    assert [lab.split()[0] for lab in labels] == ["GIF", "WEBM", "PNG", "HTML", "NPZ"]
    assert all(len(data) > 1000 for data in files.values())

    with Image.open(io.BytesIO(files["gif"])) as gif:
        assert gif.format == "GIF" and gif.n_frames == 6
        width, height = gif.size
    (tmp_path / "a.webm").write_bytes(files["webm"])
    cap = cv2.VideoCapture(str(tmp_path / "a.webm"))
    frames = []
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        frames.append(frame)
    assert len(frames) == 6 and frames[0].shape[:2] == (height + height % 2, width + width % 2)
    with Image.open(io.BytesIO(files["png"])) as sheet:  # clean row over adversarial row, a column a glance
        panel = (width - 4) // 2  # a GIF frame is clean | adversarial, 4 px apart
        assert sheet.format == "PNG" and sheet.size == (6 * panel + 5 * 4, 2 * height + 4)
        pixels = np.asarray(sheet.convert("RGB"))
        assert not np.array_equal(pixels[:height], pixels[height + 4:])
    html = files["html"].decode()
    assert html.startswith("<!DOCTYPE html>") and "Plotly.newPlot" in html
    assert "<script src=" not in html and len(html) > 3_000_000  # plotly.js inlined: works offline
    npz = np.load(io.BytesIO(files["npz"]))
    assert npz["attention_clean"].shape[:2] == (6, 4) and npz["attention_adv"].shape == npz["attention_clean"].shape
    assert npz["image"].shape == npz["adversarial"].shape == (96, 96, 3)
    meta = json.loads(str(npz["metadata"]))
    assert meta["glances"] == 6 and meta["attack"]["seed"] == 0 and len(meta["checkpoint"]["sha256"]) == 64
    assert meta["attack"]["eps_255"] == pytest.approx(32)  # the default


def test_upload_an_image_and_mark_a_box(app):
    buf = io.BytesIO()
    Image.fromarray((np.random.default_rng(0).random((60, 120, 3)) * 255).astype(np.uint8)).save(buf, "PNG")
    app.sidebar.radio(key="source").set_value("Upload").run()
    assert any("Upload an image" in i.value for i in app.info)
    app.sidebar.file_uploader(key="image_upload").set_value(("noise.png", buf.getvalue(), "image/png")).run()
    assert not app.exception, app.exception
    assert any("letterbox from 120x60 to 96x96" in c.value for c in app.caption)
    assert any("far from the training data" in w.value for w in app.warning)  # noise is no canvas
    assert any("No known label" in c.value for c in app.caption)
    app.sidebar.checkbox(key="use_box").check().run()
    assert app.sidebar.slider(key="box_y").value == (24, 72)  # the letterboxed content
    run_attack(app)
    open_tab(app, "Attention pull")
    assert "mass in box, adversarial" in app.dataframe[0].value.columns


def test_bad_upload_gets_a_message_and_the_next_one_works(app):
    app.sidebar.radio(key="source").set_value("Upload").run()
    app.sidebar.file_uploader(key="image_upload").set_value(("notes.png", b"hello, not a png", "image/png")).run()
    assert not app.exception
    assert any("not an image" in e.value for e in app.error)
    sample = sorted((ROOT / "assets" / "samples").glob("*.png"))[0].read_bytes()
    app.sidebar.file_uploader(key="image_upload").set_value(("ok.png", sample, "image/png")).run()
    assert not app.exception and not app.error
    assert len(figure(app, "glances_chart")["frames"]) == 4


def test_model_choice_listed_uploaded_and_refused(app, tmp_path):
    options = app.sidebar.selectbox(key="model_choice").options
    assert options[0].startswith("s3ta_default (default)") and any("baseline_default" in o for o in options)
    app.sidebar.selectbox(key="model_choice").set_value(next(o for o in options if "baseline" in o)).run()
    assert not app.exception, app.exception
    assert len(figure(app, "glances_chart")["frames"]) >= 1
    open_tab(app, "Model")
    assert app.json and "baseline" in app.json[0].value

    app.sidebar.selectbox(key="model_choice").set_value(options[-1]).run()
    assert options[-1] == "Upload a checkpoint…"
    evil = pickle.dumps({"weights": [1, 2, 3]})
    app.sidebar.file_uploader(key="ckpt_upload").set_value(("evil.safetensors", evil, "application/octet-stream")).run()
    assert not app.exception
    assert any("pickle" in e.value for e in app.error)
    app.sidebar.file_uploader(key="ckpt_upload").set_value(
        ("mine.safetensors", DEFAULT_CHECKPOINT.read_bytes(), "application/octet-stream")).run()
    assert not app.exception and not app.error
    assert "mine.safetensors" in app.caption[0].value


@pytest.mark.slow
def test_l2_chosen_class_and_restarts(app):
    label_class = app.sidebar.selectbox(key="sample").value.split(" (")[0]
    app.sidebar.radio(key="norm").set_value("L2").run()
    app.sidebar.slider(key="eps_l2").set_value(4.0).run()
    assert app.sidebar.select_slider(key="step_size").disabled  # L2 steps follow the protocol
    app.sidebar.selectbox(key="target").set_value("chosen class").run()
    app.sidebar.selectbox(key="target_class").set_value(label_class).run()
    assert any("class being attacked" in w.value for w in app.sidebar.warning)  # nothing to run
    assert not app.sidebar.button
    other = next(c for c in app.sidebar.selectbox(key="target_class").options if c != label_class)
    app.sidebar.selectbox(key="target_class").set_value(other).run()
    app.sidebar.slider(key="restarts").set_value(2).run()
    run_attack(app)
    caption = next(c.value for c in app.caption if c.value.startswith("The attack "))
    assert other in caption
    open_tab(app, "Perturbation")
    l2 = float(next(m for m in app.metric if m.label == "L2").value)
    assert 0 < l2 <= 4.0 + 1e-4


def test_gallery_tab_shows_every_sample(app):
    open_tab(app, "Gallery")
    captions = [c for img in app.get("image") for c in img.captions]
    assert sorted(captions) == sorted(app.sidebar.selectbox(key="sample").options)  # (column-major order)


def test_a_failing_attack_gets_a_message_and_the_page_goes_on(app, monkeypatch):
    def boom(*a, **k):
        raise RuntimeError("CUDA out of memory (simulated)")

    monkeypatch.setattr(compute.lab, "run_attack", boom)
    app.sidebar.slider(key="steps").set_value(33).run()  # settings never run before
    app.sidebar.button(key="run_attack").click().run()
    assert not app.exception
    assert any("out of memory" in e.value and "fewer steps" in e.value for e in app.error)
    assert figure(app, "glances_chart")["frames"]  # the clean view is still there


@pytest.mark.slow
def test_a_model_gets_its_tasks_gallery_or_a_warning_where_none_is_shipped(app, tmp_path):
    from programs.train import get_args_parser, main

    from .test_train import TINY
    assert not any("outside its task" in w.value for w in app.warning)  # the default model: no warning
    for task, has_gallery in (("cued-fashion-mnist", True), ("cued-strip-fashion-mnist", False)):
        main(get_args_parser().parse_args(["--out", str(tmp_path / task), "--set", "train.epochs=1",
                                           "--set", f"train.task={task}", *TINY]))
        app.sidebar.selectbox(key="model_choice").set_value("Upload a checkpoint…").run()
        data = (tmp_path / task / "model.safetensors").read_bytes()
        app.sidebar.file_uploader(key="ckpt_upload").set_value((f"{task}.safetensors", data,
                                                                 "application/octet-stream")).run()
        assert not app.exception, app.exception
        warned = any(task in w.value and "outside its task" in w.value for w in app.warning)
        assert warned != has_gallery
        assert len(figure(app, "glances_chart")["frames"]) >= 1  # the page runs it on the canvas either way
        open_tab(app, "Gallery")
        shown = task if has_gallery else "cluttered-fashion-mnist"
        assert any(f"test canvases of {shown}," in c.value for c in app.caption)
        open_tab(app, "Probabilities")


def test_the_cued_model_looks_twice_in_the_page(app):
    """The shipped cued model gets its own gallery; one glance reads only the cue (a wrong answer
    here), two read the named item; its stored race is drawn in the Race tab."""
    options = app.sidebar.selectbox(key="model_choice").options
    app.sidebar.selectbox(key="model_choice").set_value(next(o for o in options if o.startswith("s3ta_cued"))).run()
    assert not app.exception and not any("outside its task" in w.value for w in app.warning)
    assert any("glance 1 looks at the cue" in c.value for c in app.caption)  # the model says what it is
    app.sidebar.selectbox(key="sample").set_value("Trouser (test_0002.png)").run()
    titles = {}
    for n in (1, 2):
        app.sidebar.slider(key="glances").set_value(n).run()
        titles[n] = panels(figure(app, "glances_chart"))[0]
    assert titles[1].startswith("clean: Bag") and titles[2].startswith("clean: Trouser"), titles
    open_tab(app, "Race")
    assert figure(app, "race_dataset_chart")["data"]


def test_model_view_is_a_readable_table_and_heads_are_shown_apart(app):
    open_tab(app, "Model")
    assert len(app.table) == 2  # what it is, and what it measured
    shown = app.table[0].value.to_string()
    assert "task" in shown and "cluttered-fashion-mnist" in shown and "{" not in shown
    open_tab(app, "Heads")
    assert not app.exception and len(app.get("image")) == 1  # the clean image's heads x glances sheet
    run_attack(app)
    assert len(app.get("image")) == 2  # and the adversarial image's
    assert "4 heads (rows) by 4 glances" in app.get("image")[0].captions[0]
