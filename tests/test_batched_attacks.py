"""Attacks run side by side: each image of a batch attacked as it would be alone (its own glance
count, random start and target), and a run stopped midway keeping what it had finished."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from compute.images import load_samples
from compute.lab import Lab, Subject
from compute.runs import image_target, run_attack, run_attacks
from compute.studies import GLANCE_COUNTS
from model import AttackConfig, load_model, pgd
from model.attacks import _outcome

from .conftest import Left, leave_at


@pytest.fixture(scope="module")
def model():
    return load_model()


@pytest.fixture(scope="module")
def samples():
    return load_samples()


def batch(images) -> torch.Tensor:
    return torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).contiguous()


def test_per_example_counts_read_each_image_at_its_own_count(model, samples):
    x = batch([samples[0].image] * 3 + [samples[1].image])
    labels = torch.tensor([0, 1, 2, 3])
    counts = torch.tensor([1, 4, 16, 2])
    cfg = AttackConfig(target="untargeted")
    with torch.no_grad():
        loss, success = _outcome(model, x, labels, cfg, counts)
        alone = [_outcome(model, x[i:i + 1], labels[i:i + 1], cfg, int(counts[i])) for i in range(4)]
    torch.testing.assert_close(loss, torch.cat([a[0] for a in alone]), atol=1e-5, rtol=1e-5)
    assert success.tolist() == [bool(a[1]) for a in alone]


def test_each_image_starts_where_it_would_start_alone(model, samples):
    cfg = AttackConfig(eps=16 / 255, steps=0, target="untargeted")
    images = [samples[i].image for i in range(3)]
    labels = torch.tensor([samples[i].label for i in range(3)])
    together = pgd(model, batch(images), labels, cfg, seed=5, example_seeds=[5, 5, 5]).images
    for i in range(3):
        alone = pgd(model, batch(images[i:i + 1]), labels[i:i + 1], cfg, seed=5).images
        assert torch.equal(together[i:i + 1], alone)
    shared = pgd(model, batch(images), labels, cfg, seed=5).images  # one draw for the batch: another start
    assert not torch.equal(shared[1:2] - batch(images[1:2]), together[1:2] - batch(images[1:2]))


def test_each_image_is_attacked_within_its_own_budget_as_it_would_be_alone(model, samples):
    cfg = AttackConfig(eps=8 / 255, steps=3, target="class", target_class=3, early_stop=False)
    images = [samples[0].image, samples[1].image, samples[0].image]
    labels = torch.tensor([samples[0].label, samples[1].label, samples[0].label])
    budgets = [2 / 255, 16 / 255, 32 / 255]
    together = pgd(model, batch(images), labels, cfg, glances=2, example_seeds=[7, 7, 7], eps=budgets).images
    for i, b in enumerate(budgets):
        alone = pgd(model, batch(images[i:i + 1]), labels[i:i + 1], replace(cfg, eps=b), glances=2, seed=7).images
        assert (together[i:i + 1] - batch(images[i:i + 1])).abs().max() <= b + 1e-6
        assert np.mean(np.abs((together[i:i + 1] - alone).numpy()) > 1e-6) < 0.01  # a float's last bit at most


@pytest.mark.parametrize(("norm", "budgets", "match"), [("l2", [0.5], "L-inf"), ("linf", [0.1, 0.2], "per image"),
                                                        ("linf", [1.5], "per image")])
def test_per_image_budgets_are_l_inf_radii_one_per_image(model, samples, norm, budgets, match):
    with pytest.raises(ValueError, match=match):
        pgd(model, batch([samples[0].image]), torch.tensor([0]), AttackConfig(norm=norm, eps=0.5, steps=1), eps=budgets)


@pytest.mark.slow
def test_a_batch_attacks_each_image_as_alone(model, samples):
    cfg = AttackConfig(eps=16 / 255, steps=10, step_size=2 / 255, target="random")
    chosen = samples[:6]
    labels = [s.label for s in chosen]
    counts = [4, 4, 1, 2, 8, 4]
    runs = run_attacks(model, [s.image for s in chosen], labels, counts, cfg, seed=3)
    for s, label, g, run in zip(chosen, labels, counts, runs):
        alone = run_attack(model, s.image, label, g, cfg, seed=3)
        assert run.target == alone.target == image_target(s.image, label, 10, 3)
        assert (run.success, run.prediction.label, run.glances) == (alone.success, alone.prediction.label, g)
        assert run.drift.labels == alone.drift.labels  # the same frames: stopped at the same step
        # batched arithmetic may differ in a float's last bit, which can flip a gradient's sign
        assert np.mean(np.abs(run.image - alone.image) > 1e-6) < 0.01
        assert np.abs(run.image - s.image).max() <= cfg.eps + 1e-6


def test_bad_batches_are_refused(model, samples):
    cfg = AttackConfig(steps=1)
    with pytest.raises(ValueError, match="one label and one glance count per image"):
        run_attacks(model, [samples[0].image], [0, 1], [4], cfg)
    with pytest.raises(ValueError, match="one label and one glance count per image"):
        run_attacks(model, [], [], [], cfg)
    with pytest.raises(ValueError, match="one count per image"):
        pgd(model, batch([samples[0].image]), torch.tensor([0]), cfg, glances=[1, 2])
    with pytest.raises(ValueError, match="one seed per image"):
        pgd(model, batch([samples[0].image]), torch.tensor([0]), cfg, example_seeds=[1, 2])


def subject(model, sample) -> Subject:
    return Subject(model, "default", sample.image, f"sample:{sample.name}", sample.name, sample.label, sample.box, 4)


@pytest.mark.slow
def test_a_stopped_race_keeps_its_lines_up_to_the_stop(model, samples):
    lab, s = Lab(), subject(model, samples[2])
    cfg = AttackConfig(eps=8 / 255, steps=20, step_size=1 / 255)
    with pytest.raises(Left):
        lab.race(s, cfg, seed=0, progress=leave_at(0.5))
    assert lab.cached_study("race", s, cfg, 0) is None
    partial = lab.partial_race(s, cfg, 0)
    full = lab.race(s, cfg, seed=0)
    n = len(partial.steps)
    assert 1 <= n < len(full.steps) and partial.steps == full.steps[:n] and max(partial.steps) <= 11
    np.testing.assert_allclose(partial.true_probs, full.true_probs[:, :n], atol=1e-5)


@pytest.mark.slow
def test_a_stopped_grid_keeps_the_rows_that_finished(model, samples):
    lab, s = Lab(), subject(model, samples[9])  # reaches its target after 11 to 14 steps, by count
    cfg = AttackConfig(eps=32 / 255, steps=20, step_size=2 / 255)
    with pytest.raises(Left):
        lab.glance_grid(s, cfg, seed=0, progress=leave_at(0.65))
    partial = lab.partial_grid(s, cfg, 0)
    full = lab.glance_grid(s, cfg, seed=0)
    assert partial is not None and set(partial.crafted) < set(GLANCE_COUNTS)
    rows = [full.crafted.index(c) for c in partial.crafted]
    np.testing.assert_allclose(partial.true_probs, full.true_probs[rows], atol=1e-6)
    for c in partial.crafted:  # each finished row is the page's own attack at that count, cached
        assert lab.cached_attack(replace(s, glances=c), cfg, 0).success
