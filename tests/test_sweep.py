"""The strength sweep: one PGD batch with a budget per copy equals the project's PGD run alone at
each budget, every copy stays in its own ball, a zero budget gives the clean image back, and the
budgets typed in are checked with a message saying what is allowed."""

from __future__ import annotations

import csv
import io
from dataclasses import replace

import numpy as np
import pytest
import torch

from compute.catalog import open_checkpoint
from compute.images import load_samples
from compute.runs import DEFAULT_ATTACK, image_target
from compute.sweep import (
    DEFAULT_BUDGETS,
    MAX_BUDGETS,
    budget_pgd,
    parse_budgets,
    strength_sweep,
    sweep_csv,
    sweep_target,
)
from model import AttackConfig, ModelConfig, build_model, pgd
from model.checkpoint import DEFAULT_CHECKPOINT
from model.metrics import mean_box_mass

BUDGETS = (0.0, 2.0, 8.0, 32.0)
CFG = replace(DEFAULT_ATTACK, steps=6)  # the page's attack, shorter


@pytest.fixture(scope="module")
def form():
    return open_checkpoint(DEFAULT_CHECKPOINT)


@pytest.fixture(scope="module")
def sample():
    return load_samples()[3]


@pytest.fixture(scope="module")
def swept(form, sample):
    return strength_sweep(form, "s3ta_default", sample.image, sample.label, CFG, BUDGETS, 4, seed=3, box=sample.box)


def tensor(image: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(image, np.float32)).permute(2, 0, 1)[None]


def test_each_copy_stays_in_its_own_ball_and_a_zero_budget_is_the_clean_image(swept, sample):
    delta = np.abs(swept.images.astype(np.float64) - sample.image[None].astype(np.float64))  # (E, H, W, 3)
    for k, eps in enumerate(BUDGETS):
        assert delta[k].max() <= eps / 255 + 1e-6, eps
        assert swept.linf_255[k] == pytest.approx(delta[k].max() * 255)
    assert np.array_equal(swept.images[0], sample.image)  # eps 0 cannot move: bit for bit the clean image
    assert swept.linf_255[-1] > 16  # the largest budget is used, not only the smallest
    assert swept.images.min() >= 0 and swept.images.max() <= 1


@pytest.mark.parametrize("cfg", [CFG, replace(CFG, target="untargeted", step_size=None, early_stop=False),
                                 replace(CFG, restarts=2, steps=3)], ids=["random", "untargeted-auto", "restarts"])
def test_the_batch_equals_the_projects_pgd_alone_at_each_budget(form, sample, cfg):
    """Copy k is what ``model.attacks.pgd`` makes alone at budget k with the same seed and target
    (the shared random direction is its own random start scaled to each budget)."""
    x, label = tensor(sample.image), sample.label
    target = sweep_target(cfg, sample.image, label, 10, seed=5)
    batched = budget_pgd(form, x, label, target, cfg, [b / 255 for b in BUDGETS], glances=4, seed=5)
    for k, eps in enumerate(BUDGETS):
        alone = pgd(form, x, torch.tensor([label]), replace(cfg, eps=eps / 255), glances=4, seed=5,
                    targets=torch.tensor([target]) if cfg.targeted else None)
        assert torch.allclose(batched.images[k], alone.images[0], atol=1e-6), eps
        assert bool(batched.success[k]) == bool(alone.success[0]), eps


def test_the_readout_is_the_models_own_reading_of_each_copy(form, swept, sample):
    with torch.no_grad():
        out = form(torch.from_numpy(swept.images).permute(0, 3, 1, 2).contiguous(), glances=4)
    probs = out.logits.softmax(-1).numpy()
    assert np.allclose(swept.probs, probs, atol=1e-6)
    assert np.allclose(swept.attention, out.attention[:, -1].numpy(), atol=1e-7)  # the last glance's maps
    mass = mean_box_mass(out.attention.numpy(), np.asarray([sample.box] * len(BUDGETS)), sample.image.shape[:2])
    assert np.allclose(swept.mass, mass, atol=1e-6)
    target = image_target(sample.image, sample.label, 10, 3)  # the page's own attack's target
    assert swept.target == target and swept.targeted
    assert np.array_equal(swept.success, probs.argmax(1) == target)
    assert np.allclose(swept.target_probs, probs[:, target]) and np.allclose(swept.true_probs, probs[:, sample.label])


def test_every_copy_aims_at_the_same_class_and_a_chosen_class_is_kept(sample):
    for seed in range(5):
        assert sweep_target(CFG, sample.image, sample.label, 10, seed) == image_target(sample.image, sample.label, 10,
                                                                                         seed)
    assert sweep_target(replace(CFG, target="class", target_class=7), sample.image, 1, 10, 0) == 7
    assert sweep_target(replace(CFG, target="untargeted"), sample.image, 4, 10, 0) == 4


def test_a_model_without_glances_is_swept_too():
    torch.manual_seed(0)
    tiny = {"backbone_widths": (4, 8, 8), "key_channels": 4, "value_channels": 4, "lstm_size": 8,
            "query_hidden": 8, "head_hidden": 8, "heads": 1, "image_size": 32}
    base = build_model(ModelConfig(arch="baseline", **tiny)).eval()
    image = np.random.default_rng(0).random((32, 32, 3)).astype(np.float32)
    s = strength_sweep(base, "base", image, 2, CFG, (0, 4, 8), glances=8, seed=0, box=None)
    assert s.glances == 1 and not s.has_attention and s.mass is None and s.attention.shape[:2] == (3, 1)
    assert s.images.shape == (3, 32, 32, 3) and s.linf_255.max() <= 8 + 1e-4


@pytest.mark.parametrize("text, want", [("0, 2, 4, 8, 16, 32", DEFAULT_BUDGETS), ("32 8;0.5 8", (0.5, 8.0, 32.0)),
                                        ("255", (255.0,))])
def test_budgets_are_read_sorted_without_repeats(text, want):
    assert parse_budgets(text) == want


@pytest.mark.parametrize("text, says", [("", "no budget given"), ("2, four", "'four' is not a number"),
                                        ("-2, 4", "-2 is outside 0 to 255"), ("300", "300 is outside"),
                                        ("nan", "nan is outside"),
                                        (", ".join(str(i) for i in range(MAX_BUDGETS + 1)), "13 budgets is too many")])
def test_bad_budgets_say_what_is_allowed(text, says):
    with pytest.raises(ValueError, match=says) as info:
        parse_budgets(text)
    assert f"1 to {MAX_BUDGETS} numbers from 0 to 255" in str(info.value)


def test_the_sweep_refuses_what_it_cannot_run(form, sample):
    with pytest.raises(ValueError, match="1 to 12 budgets"):
        strength_sweep(form, "m", sample.image, sample.label, CFG, tuple(range(13)), 4)
    with pytest.raises(ValueError, match="class being attacked"):
        strength_sweep(form, "m", sample.image, 2, replace(CFG, target="class", target_class=2), (0, 8), 4)
    with pytest.raises(ValueError, match="L-inf"):
        budget_pgd(form, tensor(sample.image), 1, 2, AttackConfig(norm="l2", eps=1.0), [0.1], glances=1)


def test_the_csv_has_a_row_per_model_and_budget(swept, form):
    names = list(form.class_names)
    rows = list(csv.DictReader(io.StringIO(sweep_csv([swept, replace(swept, model_name="other", mass=None)],
                                                     names).decode())))
    assert len(rows) == 2 * len(BUDGETS)
    first = rows[len(BUDGETS) - 1]
    assert first["model"] == "s3ta_default" and first["eps_255"] == "32" and first["target"] == names[swept.target]
    assert float(first["p_true"]) == pytest.approx(swept.true_probs[-1], abs=1e-4)
    assert float(first["mass_in_box"]) == pytest.approx(swept.mass[-1], abs=1e-4)
    assert int(first["success"]) == int(swept.success[-1])
    assert rows[-1]["model"] == "other" and rows[-1]["mass_in_box"] == ""
