"""PGD on the shipped S3TA: captum as the reference, success, and no sign of gradient masking."""

import dataclasses
import json

import pytest
import torch
from captum.robust import PGD as CaptumPGD

from model import AttackConfig, load_model, pgd
from model.data import make_batch
from model.inference import LogitsOnly
from programs.evaluate import get_args_parser, main

from .conftest import ROOT


@pytest.fixture(scope="module")
def model():
    return load_model()


@pytest.fixture(scope="module")
def batch():
    x, y, _ = make_batch("test", range(48), seed=0)
    return x, y


@pytest.mark.parametrize("targeted", [False, True])
def test_same_result_as_captum_pgd(model, batch, targeted):
    """Five steps end to end equal captum's PGD; over ten, every one of our steps equals captum's
    step taken from our previous iterate. (Run end to end for ten steps, the two differ by float
    rounding (1e-9) from step 2 on, which flips sign(grad) on a few pixels whose gradient
    vanishes; the maths of each step are what must agree.)"""
    x, y = batch[0][:8], batch[1][:8]
    target = (y + 3) % 10 if targeted else y
    ref = CaptumPGD(LogitsOnly(model, glances=4), torch.nn.CrossEntropyLoss(reduction="none"), 0.0, 1.0)
    # captum leaves pixels with |grad| <= 1e-6 where they are (FGSM.zero_thresh); plain PGD, and
    # ours, step by sign(grad) everywhere. With the threshold at 0 the maths are the same.
    ref.fgsm.zero_thresh = 0.0
    radius, alpha = 8 / 255, 2 / 255
    cfg = AttackConfig(eps=radius, steps=5, step_size=alpha, target="class" if targeted else "untargeted",
                       target_class=0, random_start=False, early_stop=False, select="last")
    aim = target if targeted else None
    expected = ref.perturb(x, radius=radius, step_size=alpha, step_num=5, target=target, targeted=targeted)
    torch.testing.assert_close(pgd(model, x, y, cfg, glances=4, targets=aim).images, expected, rtol=0, atol=1e-6)

    ours = pgd(model, x, y, dataclasses.replace(cfg, steps=10), glances=4, targets=aim, trace_steps=range(11))
    for k in range(10):
        stepped = ref.fgsm.perturb(ours.trace[(0, k)], alpha, target, targeted=targeted)
        captum_next = (x + (stepped - x).clamp(-radius, radius)).clamp(0.0, 1.0)  # captum PGD's clip, bound
        torch.testing.assert_close(ours.trace[(0, k + 1)], captum_next, rtol=0, atol=1e-6)
    torch.testing.assert_close(ours.images, ours.trace[(0, 10)], rtol=0, atol=0)
    assert all(p.grad is None for p in model.parameters())


@pytest.mark.slow
def test_targeted_success_near_certain_at_32(model, batch):
    x, y = batch
    # 50 steps of 4/255: the adversarially trained default resists PGD-20 of 1.6/255 steps
    # at 32/255 on about a third of the canvases (docs/checkpoints.md)
    res = pgd(model, x, y, AttackConfig(eps=32 / 255, steps=50, step_size=4 / 255, target="random"), seed=0)
    assert res.success.float().mean() >= 0.95
    with torch.no_grad():
        pred = model(res.images).logits.argmax(1)
    assert torch.equal(pred[res.success], res.targets[res.success])


def robust_acc(model, x, y, eps, steps):
    res = pgd(model, x, y, AttackConfig(eps=eps / 255, steps=steps, target="untargeted"), seed=0)
    with torch.no_grad():
        return float((model(res.images).logits.argmax(1) == y).float().mean())


@pytest.mark.slow
def test_accuracy_does_not_rise_with_epsilon_or_steps(model, batch):
    x, y = batch[0][:32], batch[1][:32]
    by_eps = [robust_acc(model, x, y, e, 10) for e in (0, 4, 8, 16, 32)]
    assert all(a >= b for a, b in zip(by_eps, by_eps[1:])), by_eps
    # a large enough ball, searched long enough, always wins: no gradient masking
    res = pgd(model, x, y, AttackConfig(eps=32 / 255, steps=50, step_size=4 / 255, target="untargeted"), seed=0)
    assert res.success.float().mean() >= 0.95
    by_steps = [robust_acc(model, x, y, 8, k) for k in (1, 5, 20)]
    assert all(a >= b for a, b in zip(by_steps, by_steps[1:])), by_steps


def test_grid_cli_writes_tables_and_the_race_figure(tmp_path):
    args = get_args_parser().parse_args(["grid", "--n", "10", "--batch-size", "10", "--glances", "1", "2",
                                         "--steps", "0", "3", "--eps", "8", "--targets", "random",
                                         "--out", str(tmp_path)])
    rows = main(args)
    # 2 glance counts x 2 step counts for S3TA, 2 step counts for the baseline
    assert len(rows) == 6 and {r["model"] for r in rows} == {"s3ta_default", "baseline_default"}
    assert all(0 <= r["acc"] <= 1 for r in rows)
    assert "| s3ta_default | 2 |" in (tmp_path / "results.md").read_text()
    assert json.loads((tmp_path / "results.json").read_text())["rows"] == rows
    html = (tmp_path / "race_random_8.html").read_text()
    assert "attack steps" in html and "s3ta_default, 2 glances" in html


def test_grid_tables_are_written_without_plotly_and_the_figure_skipped(tmp_path, monkeypatch, capsys):
    import sys

    from programs.evaluate.report import write_grid
    row = {"model": "m", "glances": 1, "target": "random", "eps_255": 8.0, "steps": 0, "n": 4, "acc": 0.5,
           "attention_on_item_clean": 0.9, "attention_on_item_adv": 0.8}
    monkeypatch.delitem(sys.modules, "viz.figures", raising=False)
    monkeypatch.setitem(sys.modules, "plotly", None)          # what a server without plotly sees
    write_grid([row], tmp_path, "cmd")
    assert json.loads((tmp_path / "results.json").read_text())["rows"] == [row]
    assert "| m | 1 | 0.500 |" in (tmp_path / "results.md").read_text()
    assert not list(tmp_path.glob("*.html")) and "plotly is not installed" in capsys.readouterr().err


def test_grid_rows_name_checkpoints_apart_when_their_stems_clash():
    from pathlib import Path

    from programs.evaluate.cli import model_names
    paths = [Path("runs/a/model.safetensors"), Path("runs/b/model.safetensors"),
             Path("assets/s3ta_default.safetensors")]
    assert list(model_names(paths).values()) == ["a/model", "b/model", "s3ta_default"]


def test_transfer_judged_by_the_attacked_model_itself_sees_every_success(tmp_path):
    """With the attacked model as its own judge, "judged as the target" is exactly "the attack
    succeeded"; a different judge sees the target less often."""
    from model.checkpoint import DEFAULT_CHECKPOINT
    clean = str(DEFAULT_CHECKPOINT.parent / "s3ta_clean.safetensors")
    args = get_args_parser().parse_args(["transfer", "--checkpoints", clean, "--judge", clean, "--n", "20",
                                         "--steps", "5", "--batch-size", "10", "--json", str(tmp_path / "t.json")])
    row, = main(args)
    assert row["judged_target"] == row["attack_success"] > 0.5 and row["judged_target_when_successful"] == 1.0
    assert row["judged_true_class"] <= 1 - row["attack_success"] + 1e-9
    judged = main(get_args_parser().parse_args(["transfer", "--checkpoints", clean, "--judge",
                                                str(DEFAULT_CHECKPOINT.parent / "baseline_default.safetensors"),
                                                "--n", "20", "--steps", "5", "--batch-size", "10"]))[0]
    assert judged["attack_success"] == row["attack_success"] and judged["judged_target"] < row["judged_target"]
    assert json.loads((tmp_path / "t.json").read_text())["rows"] == [row]
    assert row["step_size_255"] == pytest.approx(32 / 5)  # the protocol's max(1/255, eps/steps)


def test_transfer_step_size_option_sets_the_attack_step():
    from model.checkpoint import DEFAULT_CHECKPOINT
    clean = str(DEFAULT_CHECKPOINT.parent / "s3ta_clean.safetensors")
    common = ["transfer", "--checkpoints", clean, "--judge", clean, "--n", "20", "--steps", "3", "--batch-size", "10"]
    small, = main(get_args_parser().parse_args([*common, "--step-size", "0.5"]))
    large, = main(get_args_parser().parse_args([*common, "--step-size", "8"]))
    assert (small["step_size_255"], large["step_size_255"]) == (0.5, 8)
    assert small["attack_success"] < large["attack_success"]  # 3 steps of 0.5/255 barely move the image
    with pytest.raises(SystemExit, match="step-size"):
        main(get_args_parser().parse_args([*common, "--step-size", "-1"]))


def test_transfer_noise_control_reads_like_clean_at_a_tiny_budget_and_breaks_a_plain_judge_at_32():
    """The control (random-sign noise of the attack's size) says whether the judge can read at
    that budget: at 1/255 it reads as on clean canvases; the plain clean judge of the docs calls
    every 32/255-noisy canvas one class, so its true-class reading under noise falls to chance."""
    from model.checkpoint import DEFAULT_CHECKPOINT
    baseline = str(DEFAULT_CHECKPOINT.parent / "baseline_default.safetensors")
    common = ["--checkpoints", baseline, "--n", "40", "--steps", "2", "--batch-size", "20"]
    tiny, = main(get_args_parser().parse_args(["transfer", *common, "--judge", baseline, "--eps", "1"]))
    assert tiny["judge_clean_acc"] > 0.6 and abs(tiny["noise_judged_true_class"] - tiny["judge_clean_acc"]) <= 0.05
    assert tiny["noise_judged_target"] <= 1 - tiny["noise_judged_true_class"] + 1e-9
    plain = str(ROOT / "tests" / "data" / "judge_baseline_clean.safetensors")
    big, = main(get_args_parser().parse_args(["transfer", *common, "--judge", plain, "--eps", "32"]))
    assert big["judge_clean_acc"] > 0.6 and big["noise_judged_true_class"] < 0.25
