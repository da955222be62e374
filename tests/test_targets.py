"""A "random wrong class" attack on one image aims at a class drawn from the image and the seed:
over a gallery the targets spread over the wrong classes, the same image and seed always aim at
the same class, and the evaluation's batched targets keep their uniform draw."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.stats import chisquare

from compute.runs import image_target, run_attack
from model import AttackConfig, load_model, random_targets
from model.data import make_batch

CLASSES = 10


@pytest.fixture(scope="module")
def canvases():
    images, labels, _ = make_batch("test", range(100))
    return [x.permute(1, 2, 0).numpy() for x in images], [int(y) for y in labels]


@pytest.mark.slow
def test_one_image_attacks_spread_their_targets_over_the_wrong_classes(canvases):
    """100 test canvases attacked one at a time, as the page does: the label-to-target shifts are
    uniform over 1..9 (chi-square), never 0."""
    model = load_model()
    cfg = AttackConfig(eps=2 / 255, steps=1, target="random")
    shifts = [(run_attack(model, image, label, 1, cfg, seed=0).target - label) % CLASSES
              for image, label in zip(*canvases)]
    counts = np.bincount(shifts, minlength=CLASSES)
    assert counts[0] == 0
    assert (counts[1:] > 0).sum() == CLASSES - 1
    assert chisquare(counts[1:]).pvalue > 0.01, counts


def test_the_target_depends_on_the_image_and_the_seed_only(canvases):
    images, labels = canvases
    first = [image_target(x, y, CLASSES, 0) for x, y in zip(images, labels)]
    assert first == [image_target(x.copy(), y, CLASSES, 0) for x, y in zip(images, labels)]  # same: same
    assert all(t != y for t, y in zip(first, labels))
    shifts = {(t - y) % CLASSES for t, y in zip(first, labels)}
    assert len(shifts) == CLASSES - 1  # not one fixed mapping
    other_seed = [image_target(x, y, CLASSES, 1) for x, y in zip(images, labels)]
    assert sum(a != b for a, b in zip(first, other_seed)) > 60  # a new seed redraws most of them


def test_the_evaluations_batched_targets_stay_uniform():
    """pgd draws one offset per example from its seeded generator (the evaluation's path)."""
    labels = torch.arange(2000) % CLASSES
    gen = torch.Generator().manual_seed(0)
    shifts = ((random_targets(labels, CLASSES, gen) - labels) % CLASSES).numpy()
    counts = np.bincount(shifts, minlength=CLASSES)
    assert counts[0] == 0 and chisquare(counts[1:]).pvalue > 0.01, counts
