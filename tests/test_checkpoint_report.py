"""`scripts/checkpoint_report.py` on the shipped checkpoints alone: their stages as far as their own
metadata records them, and the replaced versions it finds in the history folders it is given. (The
report against the kept history and docs/checkpoints.md: studies/shipped_history/test_report.py.)"""

import contextlib
import io
import shutil
from pathlib import Path

import pytest

from model import read_metadata
from scripts import checkpoint_report

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def report():
    return checkpoint_report


@pytest.mark.parametrize("name", ["s3ta_default", "baseline_default"])
def test_chain_without_history_ends_with_the_shipped_stage(report, name):
    meta = read_metadata(ROOT / "assets" / f"{name}.safetensors")
    stages = report.chain(meta)
    commands = [s["command"] for s in stages]
    assert len(set(commands)) == len(commands), "a stage is listed twice"
    assert stages[-1]["command"] == meta["command"]
    assert len(stages) >= 2  # the shipped file records the stage it started from
    assert report.shipped_versions(f"assets/{name}.safetensors") == [ROOT / "assets" / f"{name}.safetensors"]


def test_replaced_versions_are_found_in_the_history_folders_newest_first(report, tmp_path):
    first, second = tmp_path / "a", tmp_path / "b"
    first.mkdir()
    second.mkdir()
    shipped = ROOT / "assets" / "baseline_default.safetensors"
    for folder, k in [(first, 2), (second, 10), (first, 1)]:
        shutil.copy(shipped, folder / f"baseline_default_v{k}.safetensors")
    assert report.shipped_versions("assets/baseline_default.safetensors", [first, second]) == [
        shipped, second / "baseline_default_v10.safetensors", first / "baseline_default_v2.safetensors",
        first / "baseline_default_v1.safetensors"]
    # a start outside assets/: its recorded path, then a file of that name in each folder
    assert report.shipped_versions("runs/x/judge.safetensors", [first]) == [
        ROOT / "runs" / "x" / "judge.safetensors", first / "judge.safetensors"]


def test_the_report_names_its_history_folders(report, tmp_path):
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        report.main(["--history", str(tmp_path)])
    text = out.getvalue()
    assert f"--history {tmp_path} > docs/checkpoints.md" in text
    assert all(f"## `{name}`" in text for name, _ in report.SHIPPED)
