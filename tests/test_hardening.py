"""Uploaded checkpoints, the server settings, and several sessions sharing one process."""

from __future__ import annotations

import os
import pickle
import tempfile
from dataclasses import replace
from pathlib import Path

import pytest
import tomllib
from streamlit.testing.v1 import AppTest

import compute.catalog
from compute.catalog import list_checkpoints, load_uploaded, open_checkpoint
from compute.images import load_samples
from compute.runs import DEFAULT_ATTACK, run_attack
from model.checkpoint import DEFAULT_CHECKPOINT, CheckpointError

from .conftest import APP, figure

ROOT = Path(__file__).resolve().parent.parent


def test_uploaded_checkpoints_are_size_limited_and_leave_nothing_behind(monkeypatch):
    before = set(os.listdir(tempfile.gettempdir()))
    model = load_uploaded(DEFAULT_CHECKPOINT.read_bytes())
    assert model.metadata["class_names"] and len(model.metadata["sha256"]) == 64
    assert set(os.listdir(tempfile.gettempdir())) == before
    monkeypatch.setattr(compute.catalog, "MAX_CHECKPOINT_BYTES", 1000)
    with pytest.raises(CheckpointError, match="limited to"):
        load_uploaded(DEFAULT_CHECKPOINT.read_bytes())
    with pytest.raises(CheckpointError, match="empty"):
        load_uploaded(b"")


def test_a_crafted_pickle_upload_is_refused_without_running(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)

    class Evil:
        def __reduce__(self):
            return (exec, ("open('PWNED', 'w').write('x')",))

    with pytest.raises(CheckpointError, match="pickle"):
        load_uploaded(pickle.dumps(Evil()))
    assert not (tmp_path / "PWNED").exists()


def test_models_folder_lists_good_checkpoints_and_says_why_others_are_skipped(tmp_path):
    (tmp_path / "good.safetensors").write_bytes(DEFAULT_CHECKPOINT.read_bytes())
    (tmp_path / "evil.safetensors").write_bytes(pickle.dumps({"a": 1}))
    entries, problems = list_checkpoints([tmp_path])
    assert [e.path.name for e in entries] == ["s3ta_default.safetensors", "good.safetensors"]
    assert len(problems) == 1 and "pickle" in problems[0]


def test_server_binds_locally_with_upload_and_message_limits():
    cfg = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert cfg["server"]["address"] == "127.0.0.1"
    assert cfg["server"]["maxUploadSize"] <= 200 and cfg["server"]["maxMessageSize"] <= 200
    assert cfg["browser"]["gatherUsageStats"] is False


def test_upload_names_never_become_paths(tmp_path, monkeypatch):
    """A checkpoint uploaded as '../../x.safetensors' is only a label; no file appears anywhere."""
    monkeypatch.chdir(tmp_path)
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    at.sidebar.selectbox(key="model_choice").set_value("Upload a checkpoint…").run()
    at.sidebar.file_uploader(key="ckpt_upload").set_value(
        ("../../x.safetensors", DEFAULT_CHECKPOINT.read_bytes(), "application/octet-stream")).run()
    assert not at.exception and not at.error
    assert list(tmp_path.iterdir()) == [] and not (tmp_path.parent.parent / "x.safetensors").exists()


@pytest.mark.slow
def test_several_app_sessions_agree_with_one_by_one_runs():
    """Sessions with different settings, interleaved on the shared model and caches, show what
    the public API computes for each alone, with the model in the form the app runs (BatchNorm
    folded: its float rounding differs from the eager model's, and 50 sign steps amplify that)."""
    samples = load_samples()
    model = open_checkpoint(DEFAULT_CHECKPOINT)
    settings = [(1, 8, 3), (2, 16, 5), (3, 24, 4), (1, 16, 6)]  # (sample, eps/255, glances)
    sessions = []
    for s, eps, glances in settings:
        at = AppTest.from_file(APP, default_timeout=120)
        at.run()
        names = at.sidebar.selectbox(key="sample").options
        at.sidebar.selectbox(key="sample").set_value(names[s]).run()
        at.sidebar.slider(key="eps").set_value(eps).run()
        at.sidebar.slider(key="glances").set_value(glances).run()
        at.sidebar.slider(key="attack_glances").set_value(glances).run()  # aimed at the count shown
        sessions.append(at)
    for at in sessions:  # every session attacks after all have been set up
        at.sidebar.button(key="run_attack").click().run()
        assert not at.exception, at.exception
    for at, (s, eps, glances) in zip(sessions, settings):
        alone = run_attack(model, samples[s].image, samples[s].label, glances, replace(DEFAULT_ATTACK, eps=eps / 255),
                           seed=0)
        shown = next(m.value for m in at.markdown if m.value.startswith("**Adversarial: "))
        assert shown == f"**Adversarial: {model.metadata['class_names'][alone.prediction.label]}**"
        spec = figure(at, "glances_chart")
        assert len(spec["frames"]) == glances
        # the adversarial top-5; a bar's value is a truncated whole percent, its text has one decimal
        top = float(at.get("progress")[5].proto.text.rsplit(": ", 1)[1].rstrip("%")) / 100
        assert abs(top - alone.prediction.probs.max()) <= 0.0005 + 1e-9
