"""The budget each experiment view opens with, chosen from stored test-set races: worked out by
hand on small tables."""

from __future__ import annotations

from compute.studies import compare_setting, glance_setting


def row(g, eps, steps, acc, target="random"):
    return {"model": "m", "glances": g, "target": target, "eps_255": eps, "steps": steps, "acc": acc, "n": 200}


S3TA = [row(1, 8, 50, 0.70), row(4, 8, 50, 0.72), row(1, 16, 50, 0.30), row(4, 16, 50, 0.45),
        row(1, 16, 10, 0.10), row(4, 16, 10, 0.90),  # fewer steps: never the one read
        row(1, 32, 50, 0.02), row(4, 32, 50, 0.03), row(1, 8, 50, 0.0, "untargeted"), row(4, 8, 50, 1.0, "untargeted")]
BASE = [row(1, 8, 50, 0.69), row(1, 16, 50, 0.20), row(1, 32, 50, 0.01)]


def test_the_grid_and_race_open_where_the_glance_count_matters_most():
    s = glance_setting(S3TA)
    assert (s.eps_255, s.steps, s.target) == (16, 50, "random")  # spreads 0.02, 0.15, 0.01 at PGD-50
    assert "0.30 at 1 glance to 0.45 at 4" in s.why
    assert glance_setting(BASE) is None  # one glance count: nothing to vary
    assert glance_setting(None) is None


def test_compare_opens_where_the_two_models_differ_most():
    s = compare_setting(S3TA, 4, BASE, ("s3ta", "base"))
    assert s.eps_255 == 16 and "s3ta 0.45 against base 0.20" in s.why  # gaps 0.03, 0.25, 0.02
    near = compare_setting(S3TA, 3, BASE, ("s3ta", "base"))  # 3 glances: the nearest stored count, 4
    assert near.eps_255 == 16
    assert compare_setting(S3TA, 4, [row(1, 64, 50, 0.1)], ("a", "b")) is None  # no budget in common
    assert compare_setting(S3TA, 4, None, ("a", "b")) is None


def test_a_spread_within_sampling_noise_is_called_so():
    flat = [row(1, 8, 50, 0.70), row(4, 8, 50, 0.72)]  # 0.02 apart on 200 canvases each: noise
    assert "beyond sampling noise" in glance_setting(flat).why
    assert "beyond sampling noise" not in glance_setting(S3TA).why  # 0.15 apart: not noise
