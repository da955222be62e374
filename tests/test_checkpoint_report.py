"""`docs/checkpoints.md` is what `scripts/checkpoint_report.py` writes from the shipped metadata, and
the report follows each default checkpoint's training stages back through the versions replaced."""

import contextlib
import importlib.util
import io
from pathlib import Path

import pytest

from model import read_metadata

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def report():
    spec = importlib.util.spec_from_file_location("checkpoint_report", ROOT / "scripts" / "checkpoint_report.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("name", ["s3ta_default", "baseline_default"])
def test_chain_runs_from_the_clean_stage_through_every_replaced_version(report, name):
    meta = read_metadata(ROOT / "assets" / f"{name}.safetensors")
    stages = report.chain(meta)
    commands = [s["command"] for s in stages]
    assert len(set(commands)) == len(commands), "a stage is listed twice"
    assert stages[-1]["command"] == meta["command"]
    assert stages[0]["recipe"]["adv"]["method"] == "none"  # clean training first
    assert all(s["recipe"]["adv"]["method"] == "fgsm" for s in stages[1:])
    # every shipped version kept in docs/ablation/previous is one of the stages, in order
    kept = report.shipped_versions(f"assets/{name}.safetensors")[1:]
    assert kept, "no replaced version kept"
    positions = [commands.index(read_metadata(p)["command"]) for p in kept]
    assert positions == sorted(positions, reverse=True)


def test_docs_checkpoints_md_is_the_generated_report(report):
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        report.main()
    assert out.getvalue() == (ROOT / "docs" / "checkpoints.md").read_text(), \
        "docs/checkpoints.md is stale: python scripts/checkpoint_report.py > docs/checkpoints.md"
