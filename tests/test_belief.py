"""The belief's path: every model hands out the state each glance's answer is decoded from, the
plane is the states' first two principal components, it is stored in a checkpoint and read back
bit for bit, and a path is those states projected."""

from __future__ import annotations

import csv
import io
import json

import numpy as np
import pytest
import torch

from compute.belief import belief_path, path_unavailable, paths_csv, settles
from model import ModelConfig, build_model, load_model
from model.checkpoint import DEFAULT_CHECKPOINT, CheckpointError, save_checkpoint, store_projection
from model.info import CheckpointInfo
from model.projection import TENSORS, BeliefProjection, fit_projection
from model.records import BeliefPath

from .conftest import ROOT

TINY = {"backbone_widths": (4, 8, 8), "key_channels": 4, "value_channels": 4, "lstm_size": 8, "query_hidden": 8,
        "head_hidden": 8, "heads": 2, "image_size": 32, "num_classes": 3}


def tiny(arch: str = "s3ta") -> torch.nn.Module:
    torch.manual_seed(0)
    return build_model(ModelConfig(arch=arch, **TINY)).eval()


def projection_for(model: torch.nn.Module, per_class: int = 4) -> BeliefProjection:
    rng = np.random.default_rng(0)
    states = rng.normal(size=(60, model.state_dim)) * np.linspace(3, 0.5, model.state_dim)
    labels = np.arange(60) % 3
    return fit_projection(states, states, labels, 3, per_class, glances=5, record={"fit": "random states"})


def test_every_model_hands_out_a_state_per_glance():
    x = torch.rand(2, 3, 32, 32)
    s3ta, base = tiny(), tiny("baseline")
    out = s3ta(x, glances=5)
    assert out.step_states.shape == (2, 5, s3ta.state_dim) == (2, 5, 8)
    assert torch.equal(out.features[:, -s3ta.state_dim:], out.step_states[:, -1])  # the last state is in features
    assert torch.allclose(s3ta.head(out.step_states), out.step_logits, atol=1e-6)  # each glance's answer from it
    assert torch.equal(s3ta(x, glances=2).step_states, out.step_states[:, :2])  # glance t never sees later ones
    b = base(x)
    assert b.step_states.shape == (2, 1, base.state_dim) and torch.equal(b.step_states[:, 0], b.features)


def test_the_plane_is_the_first_two_principal_components():
    rng = np.random.default_rng(1)
    states = rng.normal(size=(500, 6)) * np.array([5.0, 3.0, 1.0, 0.5, 0.2, 0.1])
    labels = rng.integers(0, 3, 500)
    p = fit_projection(states, states, labels, 3, per_class=20, glances=4)
    assert p.components.shape == (2, 6) and p.mean.shape == (6,) and p.clouds.shape == (3, 20, 2)
    comps = p.components.astype(np.float64)
    assert np.allclose(comps @ comps.T, np.eye(2), atol=1e-6)
    cov = np.cov(states - states.mean(0), rowvar=False)
    top = np.linalg.eigh(cov)[1][:, ::-1][:, :2].T  # the two leading eigenvectors, up to sign
    assert np.allclose(np.abs(comps @ top.T), np.eye(2), atol=1e-4)
    assert p.record["explained_variance"][0] > p.record["explained_variance"][1] > 0
    assert np.abs(comps).argmax(1).tolist() == [0, 1] and (comps[[0, 1], [0, 1]] > 0).all()  # signs fixed
    first = np.flatnonzero(labels == 2)[:20]
    assert np.allclose(p.clouds[2], p.project(states[first]), atol=1e-5)  # each cloud: that class's states
    with pytest.raises(ValueError, match="too few for classes"):
        fit_projection(states, states, labels, 4, per_class=20, glances=4)


def test_the_projection_is_stored_and_read_back_bit_for_bit(tmp_path):
    model = tiny()
    path = save_checkpoint(model, tmp_path / "m.safetensors", {"class_names": ["a", "b", "c"]})
    p = projection_for(model)
    store_projection(path, p)
    back = load_model(path).projection
    for name in ("mean", "components", "clouds"):
        mine, theirs = getattr(p, name), getattr(back, name)
        assert mine.dtype == theirs.dtype == np.float32 and np.array_equal(mine, theirs), name
    assert back.glances == 5 and back.record == p.record
    assert json.loads(path.with_suffix(".json").read_text())["belief"]["fit"] == "random states"
    again = load_model(path)
    x = torch.rand(1, 3, 32, 32)
    assert torch.equal(again(x, glances=3).logits, model(x, glances=3).logits)  # the weights are kept


def test_a_projection_that_does_not_fit_the_model_is_refused(tmp_path):
    model = tiny()
    path = save_checkpoint(model, tmp_path / "m.safetensors", {"class_names": ["a", "b", "c"]})
    p = projection_for(model)
    wide = BeliefProjection(np.zeros(9, np.float32), np.zeros((2, 9), np.float32), p.clouds, 5)
    store_projection(path, wide)
    with pytest.raises(CheckpointError, match="states of 9 values, the model computes 8"):
        load_model(path)
    tensors = p.tensors()
    tensors.pop(TENSORS[2])
    save_checkpoint(model, path, {"class_names": ["a", "b", "c"], "belief": p.metadata()}, tensors)
    with pytest.raises(CheckpointError, match="belief projection needs"):
        load_model(path)


def test_a_paths_first_point_is_the_state_after_glance_one_projected():
    model = tiny()
    model.projection = projection_for(model)
    image = np.random.default_rng(2).random((32, 32, 3)).astype(np.float32)
    path = belief_path(model, image, 6)
    x = torch.from_numpy(image).permute(2, 0, 1)[None]
    with torch.no_grad():
        one = model(x, glances=1)
        six = model(x, glances=6)
    assert path.points.shape == (6, 2)
    assert np.allclose(path.points[0], model.projection.project(one.step_states[0, 0]), atol=1e-6)
    assert np.allclose(path.points, model.projection.project(six.step_states[0]), atol=1e-6)
    probs = six.step_logits.softmax(-1)[0].numpy()
    assert np.array_equal(path.predicted, probs.argmax(1)) and np.allclose(path.confidence, probs.max(1))


def test_the_shipped_attention_models_store_a_plane_and_the_baseline_has_no_path():
    for name in ("s3ta_default", "s3ta_cued", "s3ta_clean"):
        model = load_model(ROOT / "assets" / f"{name}.safetensors")
        p = model.projection
        assert p is not None and p.glances == 16 and p.clouds.shape == (10, 200, 2), name
        assert path_unavailable(model, name) is None
        assert 0.2 < sum(p.record["explained_variance"]) < 1
    base = load_model(ROOT / "assets" / "baseline_default.safetensors")
    assert base.projection is None and "has no glances" in path_unavailable(base, "baseline_default")


def test_without_a_plane_the_view_is_told_why():
    model = tiny()
    model.info = CheckpointInfo.from_metadata({"config": model.config.to_dict(), "class_names": ["a", "b", "c"]})
    assert "fits one on test canvases" in path_unavailable(model, "m")  # a canvas task: the script can fit one
    photo = load_model(DEFAULT_CHECKPOINT)
    photo.projection = None
    photo.info = type(photo.info).from_metadata({**photo.metadata, "task": "natural-photos"})
    assert "natural-photos) has none here" in path_unavailable(photo, "p")
    with pytest.raises(ValueError, match="no belief projection"):
        belief_path(model, np.zeros((32, 32, 3), np.float32), 2)


def test_paths_csv_and_where_a_path_settles():
    path = BeliefPath(np.array([[0.0, 1.0], [2.0, 3.0], [4.0, 5.0]]), np.array([1, 2, 2]), np.array([0.5, 0.6, 0.9]))
    assert settles(path) == 2 and settles(BeliefPath(path.points, np.array([2, 2, 2]), path.confidence)) == 1
    assert settles(BeliefPath(path.points, np.array([2, 1, 0]), path.confidence)) == 3
    rows = list(csv.DictReader(io.StringIO(paths_csv([("clean", path)], ["a", "b", "c"]).decode())))
    assert [(r["glance"], r["x"], r["y"], r["prediction"]) for r in rows] == [
        ("1", "0.000000", "1.000000", "b"), ("2", "2.000000", "3.000000", "c"), ("3", "4.000000", "5.000000", "c")]
