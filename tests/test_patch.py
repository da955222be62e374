"""The adversarial patch: its arithmetic (pasted where it says, pixels in [0, 1], the rest of the
image untouched), the place search, stopping midway, bad settings, and the view."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from compute.images import load_samples
from compute.lab import Lab, Subject
from compute.patch import patch_csv, patch_readout, run_patch
from model import load_model
from model.patch import PatchConfig, candidate_places, paste, patch_attack

from .conftest import Left, leave_at, linked_page, open_tab


@pytest.fixture(scope="module")
def model():
    return load_model()


@pytest.fixture(scope="module")
def sample():
    return load_samples()[0]


def test_paste_puts_the_patch_at_its_place_and_nothing_else():
    images = torch.rand(2, 3, 12, 10)
    patches = torch.zeros(2, 3, 4, 4)
    out = paste(images, patches, torch.tensor([[1, 2], [6, 8]]))
    assert torch.equal(out[0, :, 2:6, 1:5], patches[0]) and torch.equal(out[1, :, 8:12, 6:10], patches[1])
    mask = torch.ones_like(images, dtype=torch.bool)
    mask[0, :, 2:6, 1:5] = False
    mask[1, :, 8:12, 6:10] = False
    assert torch.equal(out[mask], images[mask])


def test_candidate_places_cover_the_image_corners_included():
    places = candidate_places(96, 96, 16)
    assert len(places) == 16 and (0, 0) in places and (80, 80) in places
    assert all(0 <= x <= 80 and 0 <= y <= 80 for x, y in places)


def test_a_chosen_patch_changes_only_its_square_and_is_reproducible(model, sample):
    x = torch.from_numpy(sample.image).permute(2, 0, 1)[None].contiguous()
    cfg = PatchConfig(size=12, steps=6, place=(30, 40), search_steps=1)
    a = patch_attack(model, x, torch.tensor([3]), cfg, glances=2, seed=1)
    b = patch_attack(model, x, torch.tensor([3]), cfg, glances=2, seed=1)
    assert torch.equal(a.images, b.images) and a.places.tolist() == [[30, 40]]
    changed = (a.images != x).any(dim=1)[0]
    assert changed[40:52, 30:42].any() and not changed[:40].any() and not changed[:, :30].any()
    assert 0 <= float(a.images.min()) and float(a.images.max()) <= 1


@pytest.mark.slow
def test_a_patch_moves_the_prediction_towards_its_target(model, sample):
    run = run_patch(model, sample.image, sample.label, 4, PatchConfig(size=16, steps=60), seed=0)
    assert run.finished and run.steps <= 60
    target = run.target
    assert run.prediction.probs[target] > run.clean.probs[target]
    readout = patch_readout(model, run, sample.box, sample.image)
    assert set(readout) == {"patch, clean", "patch, patched", "item, clean", "item, patched"}
    assert all(v.shape == (4,) and np.all((v >= 0) & (v <= 1 + 1e-6)) for v in readout.values())
    rows = patch_csv(readout).decode().splitlines()
    assert len(rows) == 5 and rows[0].startswith("glance,")


def test_a_stopped_patch_keeps_the_patch_it_reached(model, sample):
    lab = Lab()
    s = Subject(model, "default", sample.image, "img", sample.name, sample.label, sample.box, 2)
    cfg = PatchConfig(size=16, steps=80, place=(0, 0), early_stop=False, search_steps=1)

    with pytest.raises(Left):
        lab.patch(s, cfg, seed=0, progress=leave_at(0.25))
    kept = lab.cached_patch(s, cfg, seed=0)
    assert kept is not None and not kept.finished and 1 <= kept.steps < 80


def test_bad_patches_are_refused_with_what_is_allowed(model, sample):
    with pytest.raises(ValueError, match="at most 96 px"):
        run_patch(model, sample.image, sample.label, 1, PatchConfig(size=200, steps=5))
    with pytest.raises(ValueError, match="x0 must be at most 80"):
        run_patch(model, sample.image, sample.label, 1, PatchConfig(size=16, steps=5, place=(90, 0)))
    with pytest.raises(ValueError, match="steps"):
        PatchConfig(steps=0)
    with pytest.raises(ValueError, match="other than the label"):
        run_patch(model, sample.image, sample.label, 1, PatchConfig(steps=5), target=sample.label)


@pytest.mark.slow
def test_the_patch_view_runs_draws_and_exports(downloads):
    at = open_tab(linked_page(patch_steps="20", patch_place="chosen", patch_x="4", patch_y="4"), "Adversarial patch")
    at.button(key="run_patch").click().run()
    assert not at.exception, at.exception
    assert any("reach" in m.value for m in at.markdown)
    rows = downloads["patch_csv"].decode().splitlines()
    assert rows[0].startswith("glance,") and len(rows) > 1
    assert downloads["patch_png"][:4] == b"\x89PNG"
    assert at.query_params["patch_x"] in ("4", ["4"])  # the view's settings travel in the link


def test_a_link_with_a_patch_too_large_says_what_is_allowed():
    at = open_tab(linked_page(patch_size="400"), "Adversarial patch")
    assert any("must be from 2 to 48" in w.value for w in at.warning)
    assert at.slider(key="patch_size").value == 16
