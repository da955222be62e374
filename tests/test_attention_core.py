"""The attention maths against slow references, and the spatial basis' frequencies."""

import math

import pytest
import torch

from model.attention import attend
from model.spatial_basis import SpatialBasis, fourier_basis


def test_attend_matches_a_loop_reference():
    torch.manual_seed(1)
    q, k, v = torch.randn(2, 3, 5), torch.randn(2, 7, 5), torch.randn(2, 7, 4)
    answers, attention = attend(q, k, v)
    for b in range(2):
        for h in range(3):
            logits = [float(q[b, h] @ k[b, i]) for i in range(7)]
            z = sum(math.exp(v) for v in logits)
            weights = [math.exp(v) / z for v in logits]
            expected = sum(w * v[b, i] for i, w in enumerate(weights))
            assert attention[b, h].tolist() == pytest.approx(weights, rel=1e-5)
            torch.testing.assert_close(answers[b, h], expected, rtol=1e-5, atol=1e-6)


def test_attention_picks_the_matching_key():
    keys = torch.eye(4)[None] * 20  # (1, 4, 4)
    values = torch.arange(4.0).view(1, 4, 1)
    answers, attention = attend(torch.eye(4)[None], keys, values)
    assert attention[0].argmax(-1).tolist() == [0, 1, 2, 3]
    torch.testing.assert_close(answers[0, :, 0], torch.arange(4.0), atol=1e-6, rtol=0)


def test_basis_channels_have_the_intended_frequencies():
    h, w, size = 12, 16, 4
    basis = fourier_basis(h, w, size)
    assert basis.shape == (size * size, h, w)
    for u in range(size):
        for v in range(size):
            ch = basis[u * size + v]
            # u half-periods across x: u sign changes along a row, v along a column
            row, col = ch[0], ch[:, 0]
            assert int((row[1:] * row[:-1] < 0).sum()) == u
            assert int((col[1:] * col[:-1] < 0).sum()) == v
            expected = torch.outer(torch.cos(math.pi * v * (torch.arange(h) + 0.5) / h),
                                   torch.cos(math.pi * u * (torch.arange(w) + 0.5) / w))
            torch.testing.assert_close(ch, expected.float(), atol=1e-6, rtol=0)


def test_basis_is_orthogonal():
    basis = fourier_basis(10, 10, 5).flatten(1).double()
    gram = basis @ basis.T
    off = gram - torch.diag(torch.diag(gram))
    assert off.abs().max() < 1e-5
    assert (torch.diag(gram) > 0).all()


def test_spatial_basis_module_concatenates():
    x = torch.randn(2, 3, 6, 5)
    y = SpatialBasis(3)(x)
    assert y.shape == (2, 3 + 9, 6, 5)
    torch.testing.assert_close(y[:, :3], x)
    torch.testing.assert_close(y[1, 3:], fourier_basis(6, 5, 3))
