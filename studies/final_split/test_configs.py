"""The studies' training configs never validate on the final canvases (the product's configs are
checked in tests/test_splits.py)."""

from __future__ import annotations

import json
from pathlib import Path

from model.data import CANVAS_TASKS
from model.data.splits import FINAL

STUDIES = Path(__file__).resolve().parent.parent


def test_no_study_config_validates_on_the_final_canvases():
    paths = sorted(STUDIES.rglob("configs/*.json"))
    assert paths, "no study configs found"
    for path in paths:
        train_cfg = json.loads(path.read_text()).get("train", {})
        if train_cfg.get("task", "cluttered-fashion-mnist") in CANVAS_TASKS:
            assert train_cfg.get("val_size", 500) <= FINAL.start, path
