"""No study's canvas-task config validates on the final canvases' items."""

import json
from pathlib import Path

from model.data import CANVAS_TASKS
from model.data.splits import FINAL

ROOT = Path(__file__).resolve().parent.parent.parent


def test_study_configs_validate_below_the_final_items():
    paths = sorted((ROOT / "studies").rglob("configs/*.json"))
    assert paths
    for path in paths:
        train = json.loads(path.read_text()).get("train", {})
        if train.get("task", "cluttered-fashion-mnist") in CANVAS_TASKS:
            assert train.get("val_size", 500) <= FINAL.start, path
