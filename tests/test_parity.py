"""The same image, model, settings and seed give the same input, prediction and adversarial
image in the page, the export CLI and the library, byte for byte; the exports record the image
file's own hash."""

from __future__ import annotations

import hashlib
import io
import json
from argparse import Namespace
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

from compute.catalog import open_checkpoint
from compute.images import load_samples, prepare_image
from compute.runs import run_attack
from model.attacks import AttackConfig
from model.checkpoint import DEFAULT_CHECKPOINT
from model.inference import predict
from programs import export

from .conftest import APP, open_tab
from .conftest import run_attack as press_run_attack

STEPS, EPS, STEP, SEED = 5, 16, 2, 3


@pytest.fixture
def cropping(tmp_path, monkeypatch) -> Path:
    """The shipped default re-saved as a model that prefers a centre crop (as the photo model
    does), listed in a models folder: the fit must follow the checkpoint everywhere."""
    from safetensors import safe_open
    from safetensors.torch import save_file
    with safe_open(str(DEFAULT_CHECKPOINT), framework="pt") as f:
        tensors = {k: f.get_tensor(k) for k in f.keys()}
        meta = json.loads(f.metadata()["s3ta"])
    folder = tmp_path / "models"
    folder.mkdir()
    path = folder / "cropping.safetensors"
    save_file(tensors, str(path), metadata={"s3ta": json.dumps({**meta, "input_fit": "crop"})})
    monkeypatch.setenv("S3TA_MODELS_DIR", str(folder))
    return path


@pytest.fixture(scope="module")
def photo_bytes() -> bytes:
    """A non-square upload, so the fit matters: a gallery canvas on a wider grey border."""
    canvas = (load_samples()[3].image * 255).astype(np.uint8)
    wide = np.full((96, 140, 3), 40, np.uint8)
    wide[:, 22:118] = canvas
    buf = io.BytesIO()
    Image.fromarray(wide).save(buf, format="PNG")
    return buf.getvalue()


def page_npz(data: bytes, checkpoint: Path) -> np.lib.npyio.NpzFile:
    import streamlit as st
    st.cache_resource.clear()
    st.cache_data.clear()
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    choices = at.sidebar.selectbox(key="model_choice").options
    at.sidebar.selectbox(key="model_choice").set_value(next(c for c in choices if c.startswith(checkpoint.stem))).run()
    at.sidebar.radio(key="source").set_value("Upload").run()
    at.sidebar.file_uploader(key="image_upload").set_value(("photo.png", data, "image/png")).run()
    at.sidebar.slider(key="eps").set_value(EPS).run()
    at.sidebar.slider(key="steps").set_value(STEPS).run()
    at.sidebar.number_input(key="seed").set_value(SEED).run()
    at.sidebar.checkbox(key="early_stop").uncheck().run()
    press_run_attack(at)
    open_tab(at, "Export")
    at.button(key="prepare_exports").click().run()
    assert not at.exception, at.exception
    return np.load(io.BytesIO(at.session_state["exports"]["files"]["npz"]))


def cli_npz(data: bytes, checkpoint: Path, tmp_path) -> np.lib.npyio.NpzFile:
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "photo.png").write_bytes(data)
    args = export.get_args_parser().parse_args([str(tmp_path / "in"), "--out", str(tmp_path / "out"), "--eps", str(EPS),
                                                "--steps", str(STEPS), "--step-size", str(STEP), "--seed", str(SEED),
                                                "--formats", "npz", "--checkpoint", str(checkpoint)])
    assert isinstance(args, Namespace)
    export.main(args)
    return np.load(tmp_path / "out" / "photo_adv.npz")  # the page's download name


@pytest.mark.slow
def test_page_cli_and_library_agree_byte_for_byte(photo_bytes, cropping, tmp_path):
    page, cli = page_npz(photo_bytes, cropping), cli_npz(photo_bytes, cropping, tmp_path)
    model = open_checkpoint(cropping)
    assert model.info.input_fit == "crop"
    image = prepare_image(photo_bytes, model.config.image_size, "crop").image
    glances = model.default_glances
    label = predict(model, image, glances).label
    cfg = AttackConfig(eps=EPS / 255, steps=STEPS, step_size=STEP / 255, target="random", early_stop=False)
    library = run_attack(model, image, label, glances, cfg, SEED)
    for npz in (page, cli):
        assert npz["image"].tobytes() == np.asarray(image, np.float32).tobytes()
        assert npz["adversarial"].tobytes() == library.image.astype(np.float32).tobytes()
        assert npz["step_probs_adv"].tobytes() == library.prediction.step_probs.astype(np.float32).tobytes()
        meta = json.loads(str(npz["metadata"]))
        assert meta["image"]["sha256"] == hashlib.sha256(photo_bytes).hexdigest()
        assert meta["outcome"]["target"] == library.target
    assert page["step_probs_clean"].tobytes() == cli["step_probs_clean"].tobytes()
