"""`docs/checkpoints.md` is what `scripts/checkpoint_report.py` writes from the shipped metadata and the
versions kept here, and the report follows each default checkpoint's training stages back through the
versions replaced (kept in this folder; the plain judge a cued stage started from, in studies/judge)."""

import contextlib
import io
from pathlib import Path

import pytest

from model import read_metadata
from scripts import checkpoint_report

ROOT = Path(__file__).resolve().parent.parent.parent
HISTORY = [ROOT / "studies" / "shipped_history", ROOT / "studies" / "judge"]


@pytest.fixture(scope="module")
def report():
    return checkpoint_report


@pytest.mark.parametrize("name", ["s3ta_default", "baseline_default"])
def test_chain_runs_from_the_clean_stage_through_every_replaced_version(report, name):
    meta = read_metadata(ROOT / "assets" / f"{name}.safetensors")
    stages = report.chain(meta, HISTORY)
    commands = [s["command"] for s in stages]
    assert len(set(commands)) == len(commands), "a stage is listed twice"
    assert stages[-1]["command"] == meta["command"]
    assert stages[0]["recipe"]["adv"]["method"] == "none"  # clean training first
    assert all(s["recipe"]["adv"]["method"] == "fgsm" for s in stages[1:])
    # every shipped version kept in studies/shipped_history is one of the stages, in order
    kept = report.shipped_versions(f"assets/{name}.safetensors", HISTORY)[1:]
    assert kept, "no replaced version kept"
    positions = [commands.index(read_metadata(p)["command"]) for p in kept]
    assert positions == sorted(positions, reverse=True)


def test_docs_checkpoints_md_is_the_generated_report(report):
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        report.main(["--history", *map(str, HISTORY)])
    assert out.getvalue() == (ROOT / "docs" / "checkpoints.md").read_text(), \
        "docs/checkpoints.md is stale: python -m scripts.checkpoint_report --history studies/shipped_history " \
        "studies/judge > docs/checkpoints.md"
