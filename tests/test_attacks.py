"""PGD on tiny models with hand-computable gradients, and its invariants."""

import dataclasses

import pytest
import torch
from torch import nn

from model import AttackConfig, ModelConfig, ModelOutput, build_model, pgd


class Linear2(nn.Module):
    """logits = W x (two classes on a 1x1x3 image): d CE / dx = p0 (w0 - w1) for label 1."""

    def __init__(self, w0, w1):
        super().__init__()
        self.w = nn.Parameter(torch.tensor([w0, w1], dtype=torch.float32))

    def forward(self, x, glances=None):
        logits = x.flatten(1) @ self.w.T
        return ModelOutput(logits, logits[:, None], torch.ones(x.shape[0], 1, 1, 1, 1))


def test_one_linf_step_moves_by_sign_of_the_hand_gradient():
    model = Linear2([1.0, -1.0, 0.0], [-1.0, 2.0, 0.5]).eval()
    x = torch.full((1, 3, 1, 1), 0.5)
    cfg = AttackConfig(eps=0.1, steps=1, step_size=0.05, target="untargeted", random_start=False,
                       early_stop=False)
    res = pgd(model, x, torch.tensor([1]), cfg)  # class 1 is the prediction at x
    # ascending CE(1) moves by sign(w0 - w1) = sign([2, -3, -0.5]) = [1, -1, -1]
    torch.testing.assert_close(res.images.flatten(), torch.tensor([0.55, 0.45, 0.45]))
    assert not res.success.item()  # logits still favour class 1: (w0 - w1) . x = -0.4
    assert all(p.grad is None for p in model.parameters())


def test_targeted_descends_and_l2_steps_along_the_normalised_gradient():
    model = Linear2([1.0, -1.0, 0.0], [-1.0, 2.0, 0.5]).eval()
    x = torch.full((1, 3, 1, 1), 0.5)
    cfg = AttackConfig(norm="l2", eps=1.0, steps=1, step_size=0.1, target="class", target_class=0,
                       random_start=False, early_stop=False)
    res = pgd(model, x, torch.tensor([1]), cfg)
    # descending CE(target 0) moves along +(w0 - w1) / ||w0 - w1||
    d = torch.tensor([2.0, -3.0, -0.5])
    torch.testing.assert_close(res.images.flatten(), 0.5 + 0.1 * d / d.norm())


def test_projection_keeps_every_pixel_in_the_ball_and_the_box():
    torch.manual_seed(0)
    model = build_model(ModelConfig(backbone_widths=(8, 16, 16), lstm_size=32)).eval()
    x = torch.rand(4, 3, 96, 96)
    x[0] = 0.0
    x[1] = 1.0
    y = torch.tensor([0, 1, 2, 3])
    for norm, eps in (("linf", 8 / 255), ("l2", 0.5)):
        res = pgd(model, x, y, AttackConfig(norm=norm, eps=eps, steps=3, target="untargeted",
                                            early_stop=False), glances=2)
        delta = res.images - x
        assert res.images.min() >= 0 and res.images.max() <= 1
        if norm == "linf":
            assert delta.abs().max() <= eps + 1e-6
        else:
            assert delta.flatten(1).norm(dim=1).max() <= eps + 1e-5


def test_seeded_attacks_are_reproducible_bit_for_bit_and_trace():
    model = build_model(ModelConfig(backbone_widths=(8, 16, 16), lstm_size=32)).eval()
    x, y = torch.rand(3, 3, 96, 96), torch.tensor([1, 2, 3])
    cfg = AttackConfig(eps=16 / 255, steps=4, target="random", restarts=2)
    seen = []
    a = pgd(model, x, y, cfg, glances=3, seed=5, trace_steps=[0, 2, 4],
            callback=lambda done, total: seen.append((done, total)))
    b = pgd(model, x, y, cfg, glances=3, seed=5)
    assert torch.equal(a.images, b.images) and torch.equal(a.targets, b.targets)
    assert (a.targets != y).all()
    assert (0, 0) in a.trace and a.trace[(0, 0)].shape == x.shape
    assert seen[-1] == (8, 8)


def test_training_mode_model_is_refused():
    model = build_model(ModelConfig(backbone_widths=(8, 16, 16))).train()
    with pytest.raises(ValueError, match="eval mode"):
        pgd(model, torch.rand(1, 3, 96, 96), torch.tensor([0]), AttackConfig())


@pytest.mark.parametrize("bad", [dict(eps=-0.1), dict(steps=-1), dict(steps=10**6), dict(norm="l1"),
                                 dict(restarts=0), dict(target="class"), dict(step_size=0.0)])
def test_bad_settings_say_what_is_allowed(bad):
    with pytest.raises(ValueError):
        AttackConfig(**bad)


def test_trace_holds_each_iterate_not_a_view_of_the_last():
    model = build_model(ModelConfig(backbone_widths=(8, 16, 16), lstm_size=32)).eval()
    x, y = torch.rand(2, 3, 96, 96), torch.tensor([1, 2])
    cfg = AttackConfig(eps=8 / 255, steps=3, step_size=1 / 255, target="untargeted", random_start=False,
                       early_stop=False)
    res = pgd(model, x, y, cfg, glances=2, trace_steps=[0, 1, 2, 3])
    assert torch.equal(res.trace[(0, 0)], x)
    for k in (1, 2, 3):  # each step moves every pixel by at most one step size
        step = (res.trace[(0, k)] - res.trace[(0, k - 1)]).abs().max()
        assert 0 < step <= 1 / 255 + 1e-6


def test_one_long_run_reads_every_shorter_attack_of_the_same_step_size():
    """PGD-k for k in 0, 2, 5, 12 (separate runs, same seed) equal what one PGD-12 keeps at those
    step counts, image for image, with examples succeeding along the way (early stop)."""
    torch.manual_seed(0)
    model = build_model(ModelConfig(image_size=32, backbone_widths=(4, 8, 8), lstm_size=16)).eval()
    x = torch.rand(8, 3, 32, 32)
    with torch.no_grad():
        y = model(x, glances=2).logits.argmax(1)  # every example starts correct
    cfg = AttackConfig(eps=64 / 255, steps=12, step_size=64 / 255 / 6, target="untargeted")
    long = pgd(model, x, y, cfg, glances=2, seed=3, best_at=[0, 2, 5, 12])
    for k in (0, 2, 5, 12):
        short = pgd(model, x, y, dataclasses.replace(cfg, steps=k), glances=2, seed=3)
        images, success = long.best_at[k]
        assert torch.equal(images, short.images) and torch.equal(success, short.success)
    counts = [int(long.best_at[k][1].sum()) for k in (0, 2, 5, 12)]
    assert counts == [0, 0, 4, 6]  # successes along the way, and two resist
    assert torch.equal(long.best_at[12][0], long.images)


def test_best_at_refuses_runs_that_cannot_stand_for_a_shorter_attack():
    model = build_model(ModelConfig(backbone_widths=(8, 16, 16), lstm_size=32)).eval()
    x, y = torch.rand(1, 3, 96, 96), torch.tensor([1])
    for cfg, at in ((AttackConfig(steps=3, restarts=2), [1]), (AttackConfig(steps=3, select="last"), [1]),
                    (AttackConfig(steps=3), [4])):
        with pytest.raises(ValueError, match="best_at needs"):
            pgd(model, x, y, cfg, best_at=at)
