"""The seeds table pairs each seed's models canvas by canvas, summarises over seeds with a t
interval, and reads its two flags (replicates; beats in every seed at p < 0.01) correctly."""

import math

import numpy as np
import pytest

from studies.seeds.table import clean, compare, outcomes, table

CANVASES = {"name": "final", "first_index": 8000, "n": 40, "seed": 1912}


def bits(right: int, n: int = 40, start: int = 0) -> str:
    """n canvases with ``right`` of them correct, from canvas ``start`` on (wrapping)."""
    v = np.zeros(n, dtype=bool)
    v[(start + np.arange(right)) % n] = True
    return "".join("1" if c else "0" for c in v)


def curve(per_canvas: dict[str, str], canvases: dict = CANVASES, eps: float = 16) -> dict:
    return {"canvases": canvases, "eps_255": eps, "per_canvas": per_canvas}


def test_each_seed_is_paired_canvas_by_canvas_and_summarised_over_seeds():
    # seed s: S3TA-1 right on the first 10 canvases, S3TA-8 on the first 10 + 5 * (s + 1)
    one = curve({f"g1_s{s}@1/PGD-50": bits(10) for s in range(3)})
    eight = curve({f"g8_s{s}@8/PGD-50": bits(10 + 5 * (s + 1)) for s in range(3)})
    c = compare(outcomes([one, eight], ""), "g1", "g8", "PGD-50")
    assert c.seeds == (0, 1, 2)
    assert [r["diff"] for r in c.per_seed] == pytest.approx([5 / 40, 10 / 40, 15 / 40])
    assert [(r["only_a"], r["only_b"]) for r in c.per_seed] == [(0, 5), (0, 10), (0, 15)]
    assert c.per_seed[1]["p_mcnemar"] == pytest.approx(2 * 0.5 ** 10)  # exact binomial, all ten one way
    half = 4.302652729911275 * 0.125 / math.sqrt(3)  # t(0.975, 2) x sd / sqrt(3); sd of 0.125, 0.25, 0.375
    assert c.over["mean"] == pytest.approx(0.25) and c.over["sd"] == pytest.approx(0.125)
    assert (c.over["lo"], c.over["hi"]) == pytest.approx((0.25 - half, 0.25 + half), abs=1e-9)
    assert c.replicates                     # every seed's interval is above 0
    assert not c.beats_every_seed           # seed 0: 5 discordant canvases, p 0.0625


def test_flags_read_a_mixed_result_as_neither():
    one = curve({f"g1_s{s}@1/PGD-50": bits(20) for s in range(3)})
    eight = curve({"g8_s0@8/PGD-50": bits(40), "g8_s1@8/PGD-50": bits(40), "g8_s2@8/PGD-50": bits(0)})
    c = compare(outcomes([one, eight], ""), "g1", "g8", "PGD-50")
    assert [r["diff"] for r in c.per_seed] == [0.5, 0.5, -0.5]
    assert c.per_seed[0]["p_mcnemar"] < 0.01
    assert not c.replicates and not c.beats_every_seed
    assert c.over["lo"] < 0 < c.over["hi"]


def test_only_seeds_both_models_have_are_paired_and_families_are_kept_apart():
    found = outcomes([curve({"g1_s0@1/PGD-50": bits(5), "g1_s1@1/PGD-50": bits(5), "lg1_s0@1/PGD-50": bits(9)}),
                      curve({"base_s1@1/PGD-50": bits(7), "lbase_s0@1/PGD-50": bits(1)})], "")
    c = compare(found, "base", "g1", "PGD-50")
    assert c.seeds == (1,) and c.over["lo"] is None        # one seed: no spread measured
    local = compare(outcomes([curve({"lg1_s0@1/PGD-50": bits(9), "lbase_s0@1/PGD-50": bits(1)})], "l"),
                    "base", "g1", "PGD-50")
    assert local.per_seed[0]["diff"] == pytest.approx(8 / 40)
    with pytest.raises(KeyError, match="no seed"):
        compare(found, "g1", "g8", "PGD-50")


def test_curves_of_other_canvases_do_not_pair():
    other = dict(CANVASES, seed=0)
    with pytest.raises(SystemExit, match="do not pair"):
        outcomes([curve({"g1_s0@1/PGD-50": bits(5)}), curve({"g8_s0@8/PGD-50": bits(5)}, canvases=other)], "")


def compare_json(pairs: list[tuple[str, str, float]]) -> dict:
    where = "studies/seeds/checkpoints"
    return {"pairs": [{"a": f"{where}/{a}.safetensors", "b": f"{where}/{b}.safetensors", "n": 2000,
                       "acc_a": 0.7, "acc_b": 0.7 + d, "diff": d, "diff_lo": d - 0.01, "diff_hi": d + 0.01,
                       "only_a": 10, "only_b": 10, "p_mcnemar": 0.5} for a, b, d in pairs]}


def test_a_clean_comparison_is_read_seed_by_seed():
    c = clean(compare_json([("base_s0", "g1_s0", 0.01), ("base_s1", "g1_s1", 0.03), ("base_s2", "g1_s2", 0.02)]), "")
    assert (c.a, c.b, c.attack, c.seeds) == ("base", "g1", "clean", (0, 1, 2))
    assert c.over["mean"] == pytest.approx(0.02) and c.over["sd"] == pytest.approx(0.01)
    with pytest.raises(ValueError, match="seed by seed"):
        clean(compare_json([("base_s0", "g1_s1", 0.01), ("base_s1", "g1_s0", 0.03)]), "")
    with pytest.raises(ValueError, match="not a local"):
        clean(compare_json([("base_s0", "g1_s0", 0.01)]), "l")


def test_the_table_shows_each_models_accuracy_per_seed_and_each_comparison():
    one = curve({f"g1_s{s}@1/PGD-50": bits(10) for s in range(3)})
    eight = curve({f"g8_s{s}@8/PGD-50": bits(30) for s in range(3)})
    md = table([compare(outcomes([one, eight], ""), "g1", "g8", "PGD-50")], "narrow")
    assert "| S3TA-1 | 0.250 / 0.250 / 0.250 | 0.250 ± 0.000 |" in md
    assert "| S3TA-8 | 0.750 / 0.750 / 0.750 | 0.750 ± 0.000 |" in md
    assert "| S3TA-8 - S3TA-1 | PGD-50 | s0 +0.500" in md and md.rstrip().endswith("| yes | yes |")
