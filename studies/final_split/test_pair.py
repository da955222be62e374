"""Pairing two stored curves: the same canvases and seeds only, and the counts they hold."""

import pytest

from studies.final_split.pair import markdown, pair_rows


def curve(bits: dict[str, str], batch: int = 100, seed: int = 1912) -> dict:
    return {"command": f"python -m programs.evaluate curve --checkpoints m.safetensors --batch-size {batch}",
            "canvases": {"name": "final", "first_index": 8000, "n": 4, "seed": seed}, "eps_255": 16,
            "per_canvas": bits}


def test_pairs_rows_under_the_same_attack_from_their_outcomes():
    a = curve({"m@1/PGD-50": "1100", "m@1/PGD-1000": "1000"})
    b = curve({"m@8/PGD-50": "0111", "m@8/PGD-1000": "0110"})
    rows = {r["attack"]: r for r in pair_rows(a, b)}
    assert set(rows) == {"PGD-50", "PGD-1000"}
    r = rows["PGD-50"]  # A alone right on canvas 0, B alone on 2 and 3
    assert (r["a"], r["b"], r["acc_a"], r["acc_b"], r["only_a"], r["only_b"]) == ("m@1", "m@8", 0.5, 0.75, 1, 2)
    assert r["p_mcnemar"] == 1.0 and "| m@1 | m@8 | PGD-50 | 0.500 | 0.750 | +0.250" in markdown([r])


@pytest.mark.parametrize("other", [curve({"m@8/PGD-50": "0111"}, batch=50),
                                   curve({"m@8/PGD-50": "0111"}, seed=0)])
def test_refuses_curves_of_other_canvases_or_seeds(other):
    with pytest.raises(SystemExit, match="same canvases"):
        pair_rows(curve({"m@1/PGD-50": "1100"}), other)
