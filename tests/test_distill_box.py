"""The box target of the photo head's distillation and the validation split: the target is each
cell's covered share of the box, the split keeps training and validation files apart, and a run
with both reports validation numbers beside the held-out ones."""

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from model.metrics import box_mass
from programs.distill import get_args_parser, main
from programs.distill.box import box_target
from programs.distill.cli import _split
from programs.distill.evidence import evidence_loss


def test_box_target_spreads_the_box_over_the_cells_it_covers():
    # a 224 px image on a 7x7 grid: cells of 32 px; the box covers cell (1, 2) whole and half of (1, 3)
    target = box_target(np.array([[64, 32, 112, 64]]), (7, 7), (224, 224))
    assert target.shape == (1, 7, 7)
    expected = torch.zeros(7, 7)
    expected[1, 2], expected[1, 3] = 2 / 3, 1 / 3
    torch.testing.assert_close(target[0], expected)


def test_box_target_puts_its_mass_in_the_box_as_measured():
    rng = np.random.default_rng(0)
    x0, y0 = rng.integers(0, 150, 5), rng.integers(0, 150, 5)
    boxes = np.stack([x0, y0, x0 + rng.integers(10, 70, 5), y0 + rng.integers(10, 70, 5)], 1)
    target = box_target(boxes, (14, 14), (224, 224))
    torch.testing.assert_close(target.sum((1, 2)), torch.ones(5))
    share = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1]) / 224 ** 2
    assert (box_mass(target.numpy(), boxes, (224, 224)) > 2 * share).all()  # far above uniform attention
    aligned = np.array([[16, 32, 64, 80]])  # whole 16 px cells: every bit of the target is inside
    np.testing.assert_allclose(box_mass(box_target(aligned, (14, 14), (224, 224)).numpy(), aligned, (224, 224)), 1.0)


def test_box_target_refuses_a_box_outside_the_image():
    with pytest.raises(ValueError, match="covers no cell"):
        box_target(np.array([[300, 300, 320, 320]]), (7, 7), (224, 224))


def test_box_loss_is_least_when_attention_is_the_box():
    target = box_target(np.array([[0, 0, 96, 96], [128, 128, 224, 224]]), (7, 7), (224, 224))
    on_box = target[:, None, None].expand(2, 3, 4, 7, 7)
    uniform = torch.full_like(on_box, 1 / 49)
    assert evidence_loss(on_box, target) < evidence_loss(uniform, target)


def test_validation_split_takes_every_kth_file_and_keeps_the_rest():
    paths = [Path(f"{i:02d}.jpg") for i in range(12)]
    kept, val = _split(paths, 5)
    assert val == [paths[0], paths[5], paths[10]]
    assert sorted(kept + val) == paths and not set(kept) & set(val)
    assert _split(paths, 0) == (paths, [])


@pytest.mark.parametrize("flag,value", [("--validation-every", "1"), ("--validation-every", "-2"),
                                        ("--box-weight", "-1"), ("--box-weight", "11")])
def test_distill_cli_refuses_bad_split_or_box_weight(tmp_path, flag, value):
    with pytest.raises(SystemExit):
        main(get_args_parser().parse_args(["--images", str(tmp_path), "--cutouts", str(tmp_path), flag, value]))


def test_box_weight_needs_cutouts(tmp_path):
    with pytest.raises(SystemExit, match="needs --cutouts"):
        main(get_args_parser().parse_args(["--images", str(tmp_path), "--box-weight", "1"]))


@pytest.mark.slow
def test_distill_cli_with_box_target_reports_validation_beside_holdout(tmp_path):
    from .test_efficientnet_lite import photo
    photos, cutouts = tmp_path / "photos", tmp_path / "cutouts"
    photos.mkdir()
    cutouts.mkdir()
    for i, name in enumerate(("chelsea", "coffee", "rocket", "astronaut")):
        Image.fromarray((photo(name, 260)[0].permute(1, 2, 0).numpy() * 255).astype(np.uint8)).save(photos / f"{i}.jpg")
    for i, colour in enumerate(((250, 200, 0), (0, 90, 250))):
        rgba = np.zeros((40, 30, 4), np.uint8)
        rgba[5:35, 5:25] = (*colour, 255)
        Image.fromarray(rgba).save(cutouts / f"{i}.png")
    meta = main(get_args_parser().parse_args([
        "--images", str(photos), "--cutouts", str(cutouts), "--holdout", str(photos), "--holdout-cutouts",
        str(cutouts), "--views", "8", "--holdout-views", "8", "--epochs", "1", "--batch-size", "4", "--glances", "2",
        "--output-stride", "32", "--box-weight", "1", "--validation-every", "2",
        "--out", str(tmp_path / "h.safetensors")]))
    metrics = meta["metrics"]
    assert metrics["validation_sizes"] == {"photos": 2, "cutouts": 1}
    assert set(metrics["validation_agreement"]) == {"1", "2", "4", "8"}
    assert set(metrics["holdout_agreement"]) == {"1", "2", "4", "8"}
    assert metrics["validation_box_attention"]["n"] > 0 and metrics["holdout_box_attention"]["n"] > 0
    assert meta["recipe"]["box_weight"] == 1 and meta["recipe"]["validation_every"] == 2


def test_views_record_the_photograph_they_were_cropped_from():
    from programs.distill.scenes import make_views
    photos = [np.full((240, 260, 3), 40 * (i + 1), np.uint8) for i in range(4)]  # one flat grey each
    views = make_views(photos, [], 12, seed=5)
    assert {v.source for v in views} <= set(range(4)) and len({v.source for v in views}) > 1
    for v in views:
        assert (v.image == 40 * (v.source + 1)).all()
