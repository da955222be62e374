"""Square Attack on small models: the ball and the box, reproducibility, success on an undefended
model, query counting, targets, the schedule, and the settings it refuses."""

import pytest
import torch
from torch import nn

from model import ModelConfig, ModelOutput, build_model
from model.square import SquareConfig, square_attack, square_fraction, square_side
from model.square import _bump as bump


class Linear(nn.Module):
    """logits = W x on small images: an undefended model whose margin a few squares can flip.
    Counts the images it is asked about (the queries)."""

    def __init__(self, classes: int = 5, size: int = 12, seed: int = 0):
        super().__init__()
        gen = torch.Generator().manual_seed(seed)
        self.w = nn.Parameter(torch.randn(classes, 3 * size * size, generator=gen) * 0.5)
        self.seen = 0

    def forward(self, x, glances=None):
        self.seen += x.shape[0]
        logits = x.flatten(1) @ self.w.T
        return ModelOutput(logits, logits[:, None], torch.ones(x.shape[0], 1, 1, 1, 1))


def images(n: int = 8, size: int = 12, seed: int = 1):
    gen = torch.Generator().manual_seed(seed)
    x = torch.rand(n, 3, size, size, generator=gen)
    x[0] = 0.0  # the box's corners: the clip must hold there
    x[1] = 1.0
    return x


def test_stays_in_the_ball_and_the_box():
    torch.manual_seed(0)
    model = build_model(ModelConfig(backbone_widths=(8, 16, 16), lstm_size=32)).eval()
    x = torch.rand(4, 3, 96, 96)
    x[0], x[1] = 0.0, 1.0
    y = torch.tensor([0, 1, 2, 3])
    for norm, eps in (("linf", 8 / 255), ("l2", 0.5)):
        res = square_attack(model, x, y, SquareConfig(norm=norm, eps=eps, queries=12), glances=2, seed=0,
                     trace_queries=range(13))
        for adv in [res.images, *res.trace.values()]:
            delta = adv - x
            assert adv.min() >= 0 and adv.max() <= 1
            if norm == "linf":
                assert delta.abs().max() <= eps + 1e-6
            else:
                assert delta.flatten(1).norm(dim=1).max() <= eps + 1e-5
        assert all(p.grad is None for p in model.parameters())


@pytest.mark.parametrize("norm,eps", [("linf", 0.05), ("l2", 0.5)])
def test_reproducible_bit_for_bit_and_the_seed_matters(norm, eps):
    model = Linear().eval()
    x, y = images(), torch.arange(8) % 5
    cfg = SquareConfig(norm=norm, eps=eps, queries=30, target="random")
    a = square_attack(model, x, y, cfg, seed=3)
    b = square_attack(model, x, y, cfg, seed=3)
    c = square_attack(model, x, y, cfg, seed=4)
    assert torch.equal(a.images, b.images) and torch.equal(a.queries, b.queries)
    assert torch.equal(a.targets, b.targets) and (a.targets != y).all()
    assert not torch.equal(a.images, c.images)


@pytest.mark.parametrize("norm,eps,rate", [("linf", 0.1, 0.9), ("l2", 2.0, 0.8)])
def test_fools_an_undefended_model_and_counts_its_queries(norm, eps, rate):
    model = Linear().eval()
    x = images(16)
    with torch.no_grad():
        y = model(x).logits.argmax(1)  # the model's own answers: every clean example is "correct"
    model.seen = 0
    calls = []
    res = square_attack(model, x, y, SquareConfig(norm=norm, eps=eps, queries=200), seed=0,
                 callback=lambda done, total: calls.append((done, total)))
    with torch.no_grad():
        pred = model(res.images).logits.argmax(1)
    assert res.success.float().mean() >= rate
    assert torch.equal(res.success, pred != y)
    # every image the model was shown is one query of one example; fooled ones stop asking
    assert int(res.queries.sum()) == model.seen - 16
    assert res.queries.min() >= 1 and res.queries.max() <= 200
    assert (res.queries[~res.success] == 200).all() and res.queries[res.success].float().mean() < 100
    assert calls[0] == (1, 200) and calls[-1] == (200, 200)


def test_targeted_reaches_its_target():
    model = Linear(classes=5).eval()
    x = images(16, seed=2)
    with torch.no_grad():
        y = model(x).logits.argmax(1)
    res = square_attack(model, x, y, SquareConfig(eps=0.15, queries=300, target="random"), seed=0)
    with torch.no_grad():
        pred = model(res.images).logits.argmax(1)
    assert res.success.float().mean() >= 0.85
    assert torch.equal(pred[res.success], res.targets[res.success])
    chosen = square_attack(model, x, y, SquareConfig(eps=0.15, queries=300, target="class", target_class=2), seed=0)
    assert (chosen.targets == 2).all() and chosen.success[y != 2].float().mean() >= 0.85


def test_trace_stop_and_a_zero_budget():
    model = Linear().eval()
    x, y = images(4), torch.zeros(4, dtype=torch.long)
    res = square_attack(model, x, y, SquareConfig(eps=0.001, queries=50), seed=0, trace_queries=[0, 1, 10],
                 callback=lambda done, total: done >= 10)  # stop after the 10th query
    assert torch.equal(res.trace[(0, 0)], x) and set(res.trace) == {(0, 0), (0, 1), (0, 10)}
    assert res.queries.max() <= 10
    assert torch.equal(res.trace[(0, 10)], res.images)
    clean = square_attack(model, x, y, SquareConfig(eps=0.0, queries=50), seed=0)
    assert torch.equal(clean.images, x) and (clean.queries == 1).all()


def test_schedule_and_square_sizes():
    # halvings at 10, 50, 200, ... of a 10,000-query budget, scaled to the budget asked for
    assert square_fraction(0.8, 0, 10_000) == 0.8
    assert square_fraction(0.8, 11, 10_000) == 0.4
    assert square_fraction(0.8, 2, 1000) == 0.4  # iteration 2 of 1,000 is 20 of 10,000
    assert square_fraction(0.8, 9999, 10_000) == 0.8 / 512
    assert square_side(0.05, 96, 96, "linf") == 21  # round(sqrt(0.05 * 96 * 96))
    assert square_side(1.0, 96, 96, "linf") == 95 and square_side(1e-6, 96, 96, "linf") == 1
    assert square_side(0.1, 96, 96, "l2") == 31 and square_side(1e-6, 96, 96, "l2") == 3
    b = bump(7)
    assert torch.isclose(b.norm(), torch.tensor(1.0, dtype=b.dtype))
    assert (b[:3] > 0).all() and (b[3:] < 0).all()  # a bump on the top half, its negative below
    assert b[1, 3] == b[:3].max() and b[5, 3] == b[3:].min()  # each peaks at its centre


@pytest.mark.parametrize("kwargs,match", [
    ({"norm": "l1"}, "norm"), ({"eps": -0.1}, "eps"), ({"eps": 2.0}, "eps"), ({"queries": 0}, "queries"),
    ({"queries": 10**6}, "queries"), ({"queries": 10.5}, "queries"), ({"p_init": 0.0}, "p_init"),
    ({"p_init": 1.5}, "p_init"), ({"target": "best"}, "target"), ({"target": "class"}, "target_class"),
])
def test_bad_settings_are_refused(kwargs, match):
    with pytest.raises(ValueError, match=match):
        SquareConfig(**kwargs)


def test_bad_calls_are_refused():
    model = Linear().eval()
    x, y = images(2), torch.zeros(2, dtype=torch.long)
    with pytest.raises(ValueError, match="eval mode"):
        square_attack(Linear().train(), x, y, SquareConfig())
    with pytest.raises(ValueError, match="target_class"):
        square_attack(model, x, y, SquareConfig(target="class", target_class=9))
    with pytest.raises(ValueError, match="labels"):
        square_attack(model, x, y[:1], SquareConfig())
