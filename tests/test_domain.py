"""The out-of-domain score: the Gaussian's numbers against a slow reference, its round trip
through a checkpoint, the shipped fits on test canvases and on photographs, and the page and
the export CLI saying the same thing."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from compute.domain import domain_verdict
from compute.images import prepare_image
from model import load_model
from model.checkpoint import CheckpointError, save_checkpoint, store_domain
from model.config import ModelConfig
from model.data import make_batch
from model.domain import DomainGaussian, fit_domain
from model.factory import build_model

ROCKET = Path(__import__("skimage").__file__).parent / "data" / "rocket.jpg"


def reference_score(f: np.ndarray, means: np.ndarray, cov: np.ndarray) -> np.ndarray:
    """The definition, one image and one class at a time."""
    inv = np.linalg.inv(cov)
    return np.array([min(float((x - m) @ inv @ (x - m)) for m in means) for x in f])


def test_scores_and_threshold_follow_the_definition():
    rng = np.random.default_rng(0)
    means = rng.normal(0, 3, (4, 6))
    labels = rng.integers(0, 4, 800)
    f = means[labels] + rng.normal(0, 1, (800, 6))
    held = means[rng.integers(0, 4, 400)] + rng.normal(0, 1, (400, 6))
    fit = fit_domain(f, labels, held, glances=2, quantile=0.95)
    centred = f - np.stack([f[labels == k].mean(0) for k in range(4)])[labels]
    cov = centred.T @ centred / len(f)
    cov += 1e-3 * np.trace(cov) / 6 * np.eye(6)
    probe = rng.normal(0, 4, (20, 6))
    assert fit.score(probe) == pytest.approx(reference_score(probe, fit.means, cov), rel=1e-9)
    assert (fit.score(held) > fit.threshold).mean() == pytest.approx(0.05, abs=0.005)
    assert fit.flags(np.full((1, 6), 50.0))[0]  # far from every class
    with pytest.raises(ValueError, match="every class"):
        fit_domain(f, np.where(labels == 3, 0, labels), held, 2, num_classes=4)


def test_a_fit_travels_in_the_checkpoint_and_half_a_fit_is_refused(tmp_path):
    model = build_model(ModelConfig(backbone="local", heads=1, lstm_size=8, query_hidden=8, head_hidden=8))
    path = save_checkpoint(model, tmp_path / "m.safetensors", {"class_names": [str(i) for i in range(10)]})
    assert load_model(path).domain is None
    rng = np.random.default_rng(1)
    d = model.feature_dim
    fit = DomainGaussian(rng.normal(size=(10, d)), np.eye(d), 12.5, 4, {"threshold_rule": "test"})
    store_domain(path, fit)
    loaded = load_model(path).domain
    assert loaded.threshold == 12.5 and loaded.glances == 4 and loaded.calibration == {"threshold_rule": "test"}
    assert np.allclose(loaded.means, fit.means, atol=1e-6)
    meta = json.loads((tmp_path / "m.json").read_text())
    assert meta["domain"]["threshold"] == 12.5
    from safetensors.torch import load_file, save_file
    tensors = load_file(str(path))
    del tensors["domain.precision"]
    save_file(tensors, str(tmp_path / "half.safetensors"), metadata={"s3ta": json.dumps(meta)})
    with pytest.raises(CheckpointError, match="domain"):
        load_model(tmp_path / "half.safetensors")


@pytest.fixture(scope="module")
def shipped():
    return load_model()


def test_the_shipped_fit_passes_test_canvases_and_flags_a_photograph(shipped):
    """Canvases 0-199 of the test split (the fit's threshold was set on 2000-3999): at most 3%
    flagged (0.5% expected); the rocket photograph and plain noise are flagged."""
    fit = shipped.domain
    assert fit is not None and fit.calibration["threshold_rule"].startswith("the 99.5th percentile")
    images, _, _ = make_batch("test", range(200))
    with torch.no_grad():
        feats = shipped(images, glances=fit.glances).features
    assert fit.flags(feats).mean() <= 0.03
    rocket = prepare_image(ROCKET.read_bytes(), 96)
    verdict = domain_verdict(shipped, rocket.image, rocket.own_pixels)
    assert verdict.outside and verdict.score > fit.threshold
    assert not verdict.reasons  # its pixel statistics pass: only the model's own score sees it
    noise = np.random.default_rng(0).random((96, 96, 3)).astype(np.float32)
    assert domain_verdict(shipped, noise).outside


@pytest.mark.slow
def test_the_page_and_the_cli_flag_the_rocket(tmp_path):
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    from programs import export

    from .conftest import APP
    st.cache_resource.clear()
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    at.sidebar.radio(key="source").set_value("Upload").run()
    at.sidebar.file_uploader(key="image_upload").set_value(("rocket.jpg", ROCKET.read_bytes(), "image/jpeg")).run()
    assert not at.exception, at.exception
    warnings = [w.value for w in at.warning if "far from the training data" in w.value]
    assert warnings and "out-of-domain score" in warnings[0]
    assert any(b.key == "fit_photo_attention · shipped" for b in at.button)  # the photo model is offered
    offered = [b.key for b in at.button if (b.key or "").startswith("fit_")]
    assert not [k for k in offered if "cued" in k], offered  # canvas models of another task: outside their domain too

    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "rocket.jpg").write_bytes(ROCKET.read_bytes())
    args = export.get_args_parser().parse_args([str(tmp_path / "in"), "--out", str(tmp_path / "out"), "--eps", "0",
                                                "--formats", "npz"])
    export.main(args)
    meta = json.loads(str(np.load(tmp_path / "out" / "rocket.npz")["metadata"]))
    assert meta["domain"]["out_of_domain"] is True and meta["domain"]["score"] > meta["domain"]["threshold"]


def test_a_fit_of_the_wrong_width_is_refused_on_load(tmp_path):
    model = build_model(ModelConfig(backbone="local", heads=1, lstm_size=8, query_hidden=8, head_hidden=8))
    path = save_checkpoint(model, tmp_path / "m.safetensors", {"class_names": [str(i) for i in range(10)]})
    assert model.feature_dim == model.backbone.out_channels + 8
    x = torch.rand(2, 3, 96, 96)
    assert model.eval()(x, glances=2).features.shape == (2, model.feature_dim)
    store_domain(path, DomainGaussian(np.zeros((10, 5)), np.eye(5), 1.0, 2))
    with pytest.raises(CheckpointError, match="reads 5 features, the model computes"):
        load_model(path)
