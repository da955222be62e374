"""Paired statistics against cases worked out by hand (binomial tails, t tables, a normal
approximation of the bootstrap)."""

import math

import numpy as np
import pytest

from programs.evaluate.paired import mcnemar_exact, paired, paired_bootstrap, seed_summary, t_quantile, wilson


def outcomes(both: int, only_a: int, only_b: int, neither: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-canvas outcomes with the given counts of (A right, B right) combinations."""
    a = np.r_[np.ones(both), np.ones(only_a), np.zeros(only_b), np.zeros(neither)].astype(bool)
    b = np.r_[np.ones(both), np.zeros(only_a), np.ones(only_b), np.zeros(neither)].astype(bool)
    return a, b


@pytest.mark.parametrize(("only_a", "only_b", "p"), [
    (3, 0, 2 * 1 / 8),                 # n = 3, k = 0: 2 * C(3,0) / 2^3
    (5, 1, 2 * (1 + 6) / 64),          # n = 6, k = 1: 2 * (C(6,0) + C(6,1)) / 2^6 = 0.21875
    (1, 5, 2 * (1 + 6) / 64),          # symmetric in A and B
    (4, 2, 2 * (1 + 6 + 15) / 64),     # n = 6, k = 2: 0.6875
    (2, 2, 1.0),                       # 2 * 11/16 > 1: capped
    (0, 0, 1.0),                       # they never disagree
])
def test_mcnemar_exact_is_the_binomial_tail_of_the_discordant_pairs(only_a, only_b, p):
    a, b = outcomes(40, only_a, only_b, 17)  # concordant canvases do not enter the test
    assert mcnemar_exact(a, b) == pytest.approx(p, rel=1e-12)


def test_mcnemar_exact_stays_exact_with_many_discordant_pairs():
    a, b = outcomes(0, 0, 2000, 0)
    assert mcnemar_exact(a, b) == 0.0  # 2 / 2^2000 is below the smallest float, and no error
    a, b = outcomes(0, 1000, 1000, 0)
    assert mcnemar_exact(a, b) == 1.0


def test_paired_bootstrap_matches_the_normal_approximation_of_a_paired_difference():
    """1,000 canvases, A alone right on 30, B alone on 80: B - A = 0.05 with standard error
    sqrt((0.03 + 0.08 - 0.05^2) / 1000) = 0.01037, so about 0.05 +- 0.0203."""
    a, b = outcomes(400, 30, 80, 490)
    lo, hi = paired_bootstrap(a, b, resamples=20_000, seed=1)
    se = math.sqrt((0.11 - 0.05 ** 2) / 1000)
    assert lo == pytest.approx(0.05 - 1.96 * se, abs=0.003) and hi == pytest.approx(0.05 + 1.96 * se, abs=0.003)
    assert paired_bootstrap(a, b, seed=1) == paired_bootstrap(a, b, seed=1)  # seeded
    # the unpaired view of the same numbers (0.43 vs 0.48, two Wilson intervals) overlaps
    assert wilson(0.43, 1000)[1] > wilson(0.48, 1000)[0] and lo > 0


def test_paired_bootstrap_degenerate_differences():
    a, b = outcomes(10, 0, 0, 5)
    assert paired_bootstrap(a, b) == (0.0, 0.0)
    a, b = outcomes(0, 0, 7, 0)
    assert paired_bootstrap(a, b) == (1.0, 1.0)


def test_paired_collects_counts_and_direction():
    a, b = outcomes(400, 30, 80, 490)
    r = paired(a, b)
    assert (r.n, r.acc_a, r.acc_b, r.only_a, r.only_b) == (1000, 0.43, 0.48, 30, 80)
    assert r.diff == pytest.approx(0.05) and r.diff_lo < r.diff < r.diff_hi
    assert r.p_mcnemar == pytest.approx(2.0183787682242732e-06, rel=1e-9)  # 2 P(Bin(110, 1/2) <= 30)
    swapped = paired(b, a)
    assert swapped.diff == pytest.approx(-0.05) and swapped.p_mcnemar == r.p_mcnemar


@pytest.mark.parametrize("bad", [([1, 0], [1]), ([], []), ([0.5, 1], [1, 1]), ([[1, 0]], [[1, 0]])])
def test_paired_refuses_what_is_not_two_outcome_vectors(bad):
    with pytest.raises(ValueError, match="outcome"):
        paired(*bad)


@pytest.mark.parametrize(("df", "q"), [(1, 12.706), (2, 4.303), (3, 3.182), (4, 2.776), (5, 2.571),
                                       (10, 2.228), (30, 2.042)])
def test_t_quantile_matches_the_table(df, q):
    assert t_quantile(0.975, df) == pytest.approx(q, abs=5e-4)


def test_t_quantile_refuses_what_it_cannot_give():
    for p, df in ((0.4, 3), (1.0, 3), (0.975, 0), (0.975, 2.5)):
        with pytest.raises(ValueError, match="df"):
            t_quantile(p, df)


def test_seed_summary_is_the_t_interval_over_seeds():
    s = seed_summary([0.01, 0.03, 0.05])  # mean 0.03, sd 0.02, half-width 4.303 * 0.02 / sqrt(3)
    assert s.mean == pytest.approx(0.03) and s.sd == pytest.approx(0.02)
    assert (s.lo, s.hi) == pytest.approx((0.03 - 0.049687, 0.03 + 0.049687), abs=1e-5)
    one = seed_summary([0.04])
    assert one.mean == 0.04 and one.sd is None and one.lo is None and one.as_dict()["seeds"] == 1


def test_wilson_matches_the_known_interval():
    assert wilson(0.5, 100) == pytest.approx((0.4038, 0.5962), abs=1e-4)
    assert wilson(0.0, 50)[0] == 0.0 and wilson(1.0, 50)[1] == 1.0
