"""The final canvases: never the development, validation or training canvases, and read by
every evaluation mode through ``--canvases``."""

import argparse
import json

import pytest

from model.data import CANVAS_TASKS, load_fashion_mnist, make_batch
from model.data.splits import CANVAS_SETS, DEVELOPMENT, FINAL, canvas_set
from programs.evaluate.checkpoints import chosen_canvases
from programs.seeds import VALIDATION_SEED
from programs.train.config import TrainConfig
from programs.train.data import build_datasets

from .conftest import ROOT


def test_final_canvases_share_no_item_no_seed_and_no_index_with_development_or_validation():
    images, _ = load_fashion_mnist("test")
    assert FINAL.stop == len(images)  # canvas i's labelled item is image i: no wrap-around
    final_items = set(range(FINAL.start, FINAL.stop))
    assert final_items.isdisjoint(range(DEVELOPMENT.start, DEVELOPMENT.stop))
    assert FINAL.seed not in (DEVELOPMENT.seed, VALIDATION_SEED)
    assert FINAL.size == 2000 and list(FINAL.indices(3, first=1)) == [8001, 8002, 8003]
    with pytest.raises(ValueError, match="hold 2000"):
        FINAL.indices(10, first=1995)
    with pytest.raises(ValueError, match="one of"):
        canvas_set("test")


def test_training_never_draws_test_canvases_and_validation_stays_below_the_final_items():
    cfg = TrainConfig(train_size=10, val_size=10)
    train, val, _ = build_datasets(cfg, 96)
    assert (train.split, val.split, val.seed) == ("train", "test", VALIDATION_SEED)
    for task in CANVAS_TASKS:
        with pytest.raises(ValueError, match="final set"):
            TrainConfig(task=task, val_size=FINAL.start + 1)
    for path in sorted((ROOT / "configs").glob("*.json")):  # the studies' configs: their own check
        train_cfg = json.loads(path.read_text()).get("train", {})
        if train_cfg.get("task", "cluttered-fashion-mnist") in CANVAS_TASKS:
            assert train_cfg.get("val_size", 500) <= FINAL.start, path


def test_final_canvases_differ_from_the_development_canvases_of_the_same_items():
    x_dev, y_dev, _ = make_batch("test", range(8000, 8002), seed=DEVELOPMENT.seed)
    x_fin, y_fin, _ = make_batch("test", FINAL.indices(2), seed=FINAL.seed)
    assert y_dev.tolist() == y_fin.tolist() and not (x_dev == x_fin).all()


def test_a_command_picks_its_canvases_and_is_told_what_fits():
    def args(canvases, seed=0):
        return argparse.Namespace(canvases=canvases, seed=seed)
    assert chosen_canvases(args("development", 5), 100).seed == 5
    assert chosen_canvases(args("final"), 2000) == FINAL
    with pytest.raises(SystemExit, match="own seed"):
        chosen_canvases(args("final", 3), 10)
    with pytest.raises(SystemExit, match=r"\[1, 2000\]"):
        chosen_canvases(args("final"), 2001)
    assert set(CANVAS_SETS) == {"development", "final"}
