"""Shared fixtures and helpers: every test starts from the same seeds; GPU tests skip without
CUDA; the app helpers drive ``app.py`` through streamlit's AppTest."""

from __future__ import annotations

import os

# Before torch loads OpenMP, as app.py does: waiting threads spin briefly, then sleep, which keeps
# the suite's time on a busy machine nearer its time on a quiet one (bench/busy_machine.md).
os.environ.setdefault("GOMP_SPINCOUNT", "10000")

import json  # noqa: E402
import random  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from streamlit.testing.v1 import AppTest  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
APP = str(ROOT / "app.py")


def figure(at: AppTest, key: str) -> dict:
    """The JSON spec of the plotly chart with ``key`` (AppTest shows charts as unknown elements)."""
    for el in at.get("plotly_chart"):
        spec = json.loads(el.proto.spec)
        if el.proto.id.endswith(key) or key in el.proto.id:
            return spec
    raise AssertionError(f"no chart {key!r}; charts: {[el.proto.id for el in at.get('plotly_chart')]}")


def panels(spec: dict) -> list[str]:
    return [a["text"] for a in spec["layout"]["annotations"]]


def run_attack(at: AppTest) -> AppTest:
    at.sidebar.button(key="run_attack").click().run()
    assert not at.exception, at.exception
    return at


def open_tab(at: AppTest, name: str) -> AppTest:
    """Open the view titled ``name`` (one page of the app's navigation)."""
    from ui.views import by_title
    at.switch_page(by_title(name).script)
    at.run()
    assert not at.exception, at.exception
    return at


@pytest.fixture(autouse=True)
def _seed_everything():
    random.seed(0)
    np.random.seed(0)
    torch.manual_seed(0)
    yield


def pytest_collection_modifyitems(config, items):
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs CUDA")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def downloads(monkeypatch):
    """The bytes handed to each download button, by key (AppTest keeps only a URL)."""
    import streamlit as st
    from streamlit.delta_generator import DeltaGenerator

    seen: dict[str, bytes] = {}
    real = DeltaGenerator.download_button

    def record(self, label, data, *args, **kwargs):
        seen[kwargs.get("key")] = data() if callable(data) else data  # deferred data is made on click
        return real(self, label, data, *args, **kwargs)

    monkeypatch.setattr(DeltaGenerator, "download_button", record)
    monkeypatch.setattr(st, "download_button", lambda *a, **k: record(st._main, *a, **k))
    return seen


def linked_page(timeout: float = 180, **params: str) -> AppTest:
    """The app opened from a link carrying ``params`` (as a shared URL would), run once."""
    at = AppTest.from_file(APP, default_timeout=timeout)
    for k, v in params.items():
        at.query_params[k] = v
    at.run()
    assert not at.exception, at.exception
    return at


class Left(Exception):
    """What Streamlit raises out of a progress update when the user stops a run."""


def leave_at(share: float):
    """A progress callback that stops the run once ``share`` of it is done."""
    def progress(fraction: float) -> None:
        if fraction >= share:
            raise Left
    return progress


@pytest.fixture(scope="module")
def form():
    """The shipped default checkpoint as the app opens it (its inference form)."""
    from compute.catalog import open_checkpoint
    from model.checkpoint import DEFAULT_CHECKPOINT
    return open_checkpoint(DEFAULT_CHECKPOINT)


@pytest.fixture(scope="module")
def baseline():
    """The shipped default pair's pooling baseline, as the app opens it."""
    from compute.catalog import open_checkpoint
    from model.checkpoint import DEFAULT_CHECKPOINT
    return open_checkpoint(DEFAULT_CHECKPOINT.parent / "baseline_default.safetensors")
