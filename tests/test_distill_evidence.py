"""The class evidence target of the photo head's distillation: it matches a per-position loop,
peaks where the class's evidence is, and its loss is least when attention follows it."""

import pytest
import torch
from torch import nn

from programs.distill.evidence import evidence_loss, evidence_target


def test_evidence_target_matches_a_per_position_reference():
    torch.manual_seed(0)
    fc = nn.Linear(8, 5)
    maps = torch.randn(3, 8, 4, 6)
    classes = torch.tensor([0, 4, 2])
    target = evidence_target(fc, maps, classes, tau=0.7)
    for b in range(3):
        logits = torch.stack([torch.stack([fc(maps[b, :, i, j])[classes[b]] for j in range(6)]) for i in range(4)])
        torch.testing.assert_close(target[b], (logits.flatten() / 0.7).softmax(0).view(4, 6))
    torch.testing.assert_close(target.sum((1, 2)), torch.ones(3))


def test_evidence_target_peaks_where_the_class_is():
    fc = nn.Linear(2, 2, bias=False)
    with torch.no_grad():
        fc.weight.copy_(torch.eye(2))
    maps = torch.zeros(2, 2, 5, 5)
    maps[:, 0, 1, 3] = 4.0  # evidence for class 0 at (1, 3)
    maps[:, 1, 4, 0] = 4.0  # for class 1 at (4, 0)
    target = evidence_target(fc, maps, torch.tensor([0, 1]), tau=0.5)
    assert target[0].flatten().argmax() == 1 * 5 + 3 and target[1].flatten().argmax() == 4 * 5 + 0
    assert target[0, 1, 3] > 0.9
    with pytest.raises(ValueError):
        evidence_target(fc, maps, torch.tensor([0, 1]), tau=0.0)


def test_evidence_loss_is_least_when_attention_follows_the_target():
    torch.manual_seed(1)
    target = torch.rand(2, 3, 3).flatten(1).softmax(1).view(2, 3, 3)
    entropy = -(target * target.log()).sum((1, 2)).mean()
    following = target[:, None, None].expand(2, 4, 3, 3, 3)  # 4 glances, 3 heads
    torch.testing.assert_close(evidence_loss(following, target), entropy)
    uniform = torch.full((2, 4, 3, 3, 3), 1 / 9)
    assert evidence_loss(uniform, target) > entropy + 1e-3
