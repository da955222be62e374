"""The attention guide of the cued tasks: its loss is small exactly where the maps sit on the cue
then the item, its weight fades, and training with it moves glance 1's attention onto the cue."""

import json

import numpy as np
import pytest
import torch

from model import load_model
from model.data import make_batch
from model.data.cued import CUE_STYLES
from model.metrics import box_mass
from programs.train import get_args_parser, main
from programs.train.config import TrainConfig
from programs.train.guide import guide_loss, guide_weight_at
from tests.test_train import TINY

CORNER = CUE_STYLES["corner"].cue


def _maps(b: int, n: int, heads: int, cells: list[tuple[int, int]]) -> torch.Tensor:
    """(b, n, heads, 12, 12) maps, glance t all on cell ``cells[t]``."""
    a = torch.zeros(b, n, heads, 12, 12)
    for t, (r, c) in enumerate(cells):
        a[:, t, :, r, c] = 1.0
    return a


def test_guide_loss_is_near_zero_on_cue_then_item_and_large_elsewhere():
    item = torch.tensor([[48, 48, 80, 80]]).repeat(3, 1)  # cells (6..9, 6..9)
    right = guide_loss(_maps(3, 3, 2, [(0, 0), (7, 7), (8, 8)]), CORNER, item, (96, 96))
    reversed_ = guide_loss(_maps(3, 3, 2, [(7, 7), (0, 0), (0, 0)]), CORNER, item, (96, 96))
    uniform = guide_loss(torch.full((3, 3, 2, 12, 12), 1 / 144), CORNER, item, (96, 96))
    assert right.item() < 1e-4
    assert reversed_.item() > 10 and uniform.item() > 3  # -log(1e-6) and about -log(share)
    one_glance = guide_loss(_maps(3, 1, 2, [(0, 0)]), CORNER, item, (96, 96))
    assert one_glance.item() < 1e-4  # one glance: the cue term alone


def test_guide_loss_has_gradients_for_the_maps():
    logits = torch.randn(2, 3, 1, 144, requires_grad=True)
    maps = logits.softmax(-1).view(2, 3, 1, 12, 12)
    guide_loss(maps, CORNER, torch.tensor([[40, 40, 70, 70]] * 2), (96, 96)).backward()
    assert logits.grad.abs().sum() > 0


def test_guide_weight_fades_linearly_and_stops():
    assert guide_weight_at(0, 100, 2.0, 0.5) == 2.0
    assert guide_weight_at(25, 100, 2.0, 0.5) == pytest.approx(1.0)
    assert guide_weight_at(50, 100, 2.0, 0.5) == 0.0 and guide_weight_at(99, 100, 2.0, 0.5) == 0.0
    assert guide_weight_at(0, 100, 0.0, 0.5) == 0.0


@pytest.mark.parametrize("changes, message", [
    ({"guide_weight": 1.0}, "needs a cued task"),
    ({"guide_weight": -1.0, "task": "cued-fashion-mnist"}, "guide_weight"),
    ({"guide_weight": 1.0, "guide_fraction": 0.0, "task": "cued-fashion-mnist"}, "guide_fraction"),
])
def test_guide_settings_are_checked(changes, message):
    with pytest.raises(ValueError, match=message):
        TrainConfig(**changes)


@pytest.mark.slow
def test_training_with_the_guide_moves_glance_one_onto_the_cue(tmp_path):
    """The same tiny run with and without the guide: only the guided one looks at the cue first."""
    x, _, _ = make_batch("test", range(64), task="cued-fashion-mnist")
    mass = {}
    for name, weight in (("plain", 0.0), ("guided", 5.0)):
        out = tmp_path / name
        main(get_args_parser().parse_args([*TINY, "--set", "train.task=cued-fashion-mnist",
              "--set", "train.train_size=256",
              "--set", "train.epochs=3", "--set", "train.glances_min=2", "--set", "train.glances_max=2",
              "--set", "train.loss=last", "--set", f"train.guide_weight={weight}", "--set", "train.guide_fraction=1",
              "--set", "train.lr=0.005", "--out", str(out), "--threads", "1"]))
        history = json.loads((out / "metrics.json").read_text())
        assert ("guide_loss" in history[0]) == (weight > 0)
        model = load_model(out / "model.safetensors")
        with torch.no_grad():
            attention = model(x, glances=2).attention[:, 0].mean(dim=1).numpy()  # glance 1, heads averaged
        mass[name] = float(box_mass(attention, np.array(CORNER), (96, 96)).mean())
    assert mass["guided"] > 0.3 and mass["guided"] > 5 * mass["plain"], mass
