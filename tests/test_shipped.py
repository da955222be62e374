"""The shipped checkpoints meet the issue's floors on a fixed test subset (the full 2,000-canvas
numbers are in docs/checkpoints.md)."""

from pathlib import Path

import numpy as np
import pytest
import torch

from compute.studies import dataset_race
from model import AttackConfig, load_model, pgd
from model.data import make_batch
from model.data.cued import CUE_STYLES
from model.metrics import box_mass
from programs.evaluate.measure import attention_on_item

ASSETS = Path(__file__).resolve().parent.parent / "assets"
N = 400


@pytest.fixture(scope="module")
def test_batch():
    return make_batch("test", range(N), seed=0)


def clean_stats(model, batch):
    x, y, boxes = batch
    with torch.no_grad():
        out = model(x)
    return float((out.logits.argmax(1) == y).float().mean()), attention_on_item(out.attention, boxes)


@pytest.mark.slow
def test_default_checkpoint_floors(test_batch):
    model = load_model()
    assert model.config.arch == "s3ta" and not model.training
    meta = model.metadata
    for key in ("command", "seed", "wall_time_s", "hardware", "recipe", "task", "metrics"):
        assert key in meta, key
    assert meta["recipe"]["adv"]["method"] in ("pgd", "fgsm")
    assert meta["recipe"]["adv"]["eps"] >= 8 / 255 - 1e-9
    acc, mass = clean_stats(model, test_batch)
    assert acc >= 0.845  # 0.8675 here, 0.858 on 2,000 canvases
    assert mass.mean() >= 0.65  # 0.765 here


@pytest.mark.slow
def test_default_checkpoint_robustness_and_attention_pull(test_batch):
    model = load_model()
    x, y, boxes = (t[:100] for t in test_batch)
    res = pgd(model, x, y, AttackConfig(eps=8 / 255, steps=20, target="random"), seed=0)
    with torch.no_grad():
        robust = float((model(res.images).logits.argmax(1) == y).float().mean())
    assert robust >= 0.66  # 0.73 here, 0.752 on 2,000 canvases
    res = pgd(model, x, y, AttackConfig(eps=32 / 255, steps=20, target="random"), seed=1)
    assert res.success.float().mean() > 0.5
    with torch.no_grad():
        clean_mass = attention_on_item(model(x).attention, boxes)
        adv_mass = attention_on_item(model(res.images).attention, boxes)
    ok = res.success.numpy()
    assert (clean_mass - adv_mass)[ok].mean() >= 0.23  # 0.318 here (65 of 100 succeed), 0.303 on 2,000


@pytest.mark.slow
def test_clean_trained_checkpoint_floors(test_batch):
    model = load_model(ASSETS / "s3ta_clean.safetensors")
    assert model.metadata["recipe"]["adv"]["method"] == "none"
    acc, mass = clean_stats(model, test_batch)
    assert acc >= 0.80
    x, y, boxes = (t[:100] for t in test_batch)
    res = pgd(model, x, y, AttackConfig(eps=16 / 255, steps=20, target="random"), seed=1)
    with torch.no_grad():
        adv_mass = attention_on_item(model(res.images).attention, boxes)
    ok = res.success.numpy()
    assert ok.mean() > 0.5
    assert (mass[:100] - adv_mass)[ok].mean() >= 0.2


@pytest.mark.slow
def test_baseline_checkpoint_is_the_same_backbone_adversarially_trained(test_batch):
    default = load_model()
    model = load_model(ASSETS / "baseline_default.safetensors")
    assert model.config.arch == "baseline"
    assert model.config.backbone == default.config.backbone
    assert model.config.backbone_widths == default.config.backbone_widths
    assert model.metadata["recipe"]["adv"] == default.metadata["recipe"]["adv"]
    acc, mass = clean_stats(model, test_batch)
    assert acc >= 0.5
    # global average pooling spreads its "attention" evenly: about the box's share of the canvas
    assert mass.mean() < 0.2


@pytest.fixture(scope="module")
def cued_batch():
    return make_batch("test", range(N), seed=0, task="cued-fashion-mnist")


@pytest.mark.slow
def test_cued_checkpoint_reads_the_cue_then_the_named_item(cued_batch):
    """The two-look solution (docs/findings.md): glance 1 on the cue and at chance, the later
    glances on the item of the cue's colour and right; its race is stored for the app."""
    model = load_model(ASSETS / "s3ta_cued.safetensors")
    meta = model.metadata
    assert meta["task"] == "cued-fashion-mnist" and meta["recipe"]["adv"]["method"] == "pgd"
    x, y, boxes = cued_batch
    with torch.no_grad():
        out = model(x, glances=4)
    by_glance = (out.step_logits.argmax(-1) == y[:, None]).float().mean(0)
    assert by_glance[0] <= 0.2 and by_glance[1:].min() >= 0.64  # 0.10 and 0.72-0.74 on 1,000 canvases
    maps = out.attention.mean(dim=2).numpy()  # (B, glances, h, w), heads averaged
    cue = box_mass(maps[:, 0], np.array(CUE_STYLES["corner"].cue), (96, 96))
    item = box_mass(maps[:, 1:], boxes.numpy()[:, None], (96, 96))
    assert cue.mean() >= 0.9 and item.mean() >= 0.85  # 0.99 and 0.93 on 1,000 canvases
    rows = dataset_race(meta)
    assert rows and {r["glances"] for r in rows} == {1, 2, 4, 8} and {r["eps_255"] for r in rows} == {8.0, 16.0}


@pytest.mark.slow
def test_cued_baseline_is_the_same_backbone_and_pgd_stage_and_cannot_read_the_cue(cued_batch):
    """Without attention the cued task's answer is one of three items: about a third of what the
    two-look S3TA reads (0.36 against 0.72 on 1,000 canvases)."""
    s3ta = load_model(ASSETS / "s3ta_cued.safetensors")
    model = load_model(ASSETS / "baseline_cued.safetensors")
    assert model.config.arch == "baseline" and model.metadata["task"] == "cued-fashion-mnist"
    assert (model.config.backbone, model.config.backbone_widths) == (s3ta.config.backbone, s3ta.config.backbone_widths)
    assert model.metadata["recipe"]["adv"] == s3ta.metadata["recipe"]["adv"]
    acc, _ = clean_stats(model, cued_batch)
    assert 0.25 <= acc <= 0.5


@pytest.mark.slow
def test_cued_s3ta_is_more_robust_than_its_baseline(cued_batch):
    """Goal 4 on the cued pair: PGD-50 towards random targets at 8/255, 0.66 against 0.29 on
    1,000 canvases (docs/findings.md); here 100 canvases and 20 steps."""
    x, y, _ = (t[:100] for t in cued_batch)
    robust = []
    for name in ("s3ta_cued", "baseline_cued"):
        model = load_model(ASSETS / f"{name}.safetensors")
        res = pgd(model, x, y, AttackConfig(eps=8 / 255, steps=20, target="random"), seed=0)
        with torch.no_grad():
            robust.append(float((model(res.images).logits.argmax(1) == y).float().mean()))
    assert robust[0] >= robust[1] + 0.2, robust
