"""The compare and curve modes: a model against itself, agreement with the grid on the same
canvases and seeds, and one long run standing for the shorter ones."""

import json

import pytest

from model.checkpoint import DEFAULT_CHECKPOINT
from programs.evaluate import get_args_parser, main

S3TA = str(DEFAULT_CHECKPOINT)
BASELINE = str(DEFAULT_CHECKPOINT.parent / "baseline_default.safetensors")


def run(*argv):
    return main(get_args_parser().parse_args([*argv, "--threads", "1"]))


def test_compare_a_model_with_itself_finds_no_difference(tmp_path):
    result = run("compare", "--a", S3TA, "--b", S3TA, "--glances-a", "2", "--glances-b", "2", "--n", "10",
                 "--batch-size", "10", "--steps", "1", "--canvases", "final", "--json", str(tmp_path / "c.json"))
    pair, = result["pairs"]
    assert (pair["diff"], pair["diff_lo"], pair["diff_hi"], pair["only_a"], pair["only_b"], pair["p_mcnemar"]) \
        == (0.0, 0.0, 0.0, 0, 0, 1.0)
    assert result["canvases"] == {"name": "final", "first_index": 8000, "n": 10, "seed": 1912}
    assert json.loads((tmp_path / "c.json").read_text())["pairs"] == result["pairs"]
    assert result["over_seeds"] is None


@pytest.mark.slow
def test_compare_reads_the_grids_numbers_on_the_same_canvases(tmp_path):
    """Same canvases, batches and attack seeds: compare's accuracies are the grid's."""
    grid = run("grid", "--checkpoints", S3TA, BASELINE, "--n", "20", "--batch-size", "10", "--glances", "2",
               "--steps", "3", "--eps", "16", "--targets", "random", "--canvases", "final", "--out", str(tmp_path))
    result = run("compare", "--a", BASELINE, "--b", S3TA, "--glances-b", "2", "--n", "20", "--batch-size", "10",
                 "--eps", "16", "--steps", "3", "--canvases", "final")
    pair, = result["pairs"]
    acc = {r["model"]: r["acc"] for r in grid}
    assert (pair["acc_a"], pair["acc_b"]) == (acc["baseline_default"], acc["s3ta_default"])
    assert pair["diff"] == pytest.approx(pair["acc_b"] - pair["acc_a"])
    assert pair["only_b"] - pair["only_a"] == round(20 * pair["diff"])


@pytest.mark.slow
def test_curve_reads_each_step_count_as_its_own_attack_would(tmp_path):
    result = run("curve", "--checkpoints", S3TA, "--glances", "1", "2", "--steps", "0", "2", "5", "--step-size", "4",
                 "--apgdt-steps", "0", "--n", "10", "--batch-size", "10", "--canvases", "final", "--out", str(tmp_path))
    rows = {(r["glances"], r["steps"]): r for r in result["rows"]}
    assert set(rows) == {(g, k) for g in (1, 2) for k in (0, 2, 5)}
    assert rows[(2, 0)]["acc"] >= rows[(2, 2)]["acc"] >= rows[(2, 5)]["acc"]  # a success is final
    alone = run("compare", "--a", S3TA, "--b", S3TA, "--glances-a", "2", "--glances-b", "1", "--n", "10",
                "--batch-size", "10", "--steps", "2", "--step-size", "4", "--canvases", "final")["pairs"][0]
    assert (alone["acc_a"], alone["acc_b"]) == (rows[(2, 2)]["acc"], rows[(1, 2)]["acc"])
    paired = {(p["glances_b"], p["attack"]): p for p in result["paired"]}
    assert paired[(2, "PGD-2")]["diff"] == pytest.approx(alone["acc_a"] - alone["acc_b"])
    assert len(result["per_canvas"]["s3ta_default@2/PGD-5"]) == 10
    assert "| s3ta_default | 2 vs 1 | PGD-5 |" in (tmp_path / "results.md").read_text()
    assert "attack steps" in (tmp_path / "race_random_16.html").read_text()


@pytest.mark.slow
def test_curve_runs_apgdt_where_torchattacks_is_installed(tmp_path):
    pytest.importorskip("torchattacks")
    # two glance counts: PGD at the second runs after APGD-T at the first (which must leave the
    # model in eval mode: torchattacks restores the mode it found its wrapper in)
    result = run("curve", "--checkpoints", S3TA, "--glances", "1", "2", "--steps", "0", "--apgdt-steps", "3",
                 "--apgdt-targets", "2", "--n", "10", "--batch-size", "10", "--canvases", "final",
                 "--out", str(tmp_path))
    rows = {(r["glances"], r["attack"]): r for r in result["rows"]}
    assert set(rows) == {(g, a) for g in (1, 2) for a in ("PGD-0", "APGD-T-3")}
    assert all(rows[(g, "APGD-T-3")]["acc"] <= rows[(g, "PGD-0")]["acc"] for g in (1, 2))
    assert result["apgdt"] == {"steps": 3, "restarts": 1, "target_classes": 2}


def test_compare_refuses_unpaired_seed_lists_and_final_metadata():
    with pytest.raises(SystemExit, match="pair checkpoints by training seed"):
        run("compare", "--a", S3TA, S3TA, "--b", BASELINE, BASELINE, BASELINE, "--n", "5", "--steps", "0")
    with pytest.raises(SystemExit, match="write-metadata"):
        run("floors", "--checkpoint", S3TA, "--n", "5", "--canvases", "final", "--write-metadata")
