"""`studies/ablation/TABLE.md` is what `studies/ablation/table.py` writes from the stored grids, and
its cells are the grids' numbers (issue 11's ablation table, one row per variant)."""

import json
from pathlib import Path

import pytest

from studies.ablation import table as table_module

ROOT = Path(__file__).resolve().parent.parent.parent
MANIFEST = ROOT / "studies" / "ablation" / "variants.json"


@pytest.fixture(scope="module")
def script():
    return table_module


def test_docs_table_is_the_generated_one(script):
    generated = script.table(json.loads(MANIFEST.read_text()))
    assert (ROOT / "studies" / "ablation" / "TABLE.md").read_text() == generated


def test_a_row_reads_its_grid_at_the_count_it_names(script):
    variant = {"name": "x", "what": "y", "grid": "studies/ablation/race_narrow/results.json",
               "model": "abl_narrow_g8_pgd/model", "read_at": 8, "training": "t"}
    rows = json.loads((ROOT / variant["grid"]).read_text())["rows"]
    want = next(r for r in rows if r["model"] == variant["model"] and r["glances"] == 8 and r["steps"] == 50
                and r["eps_255"] == 16 and r["target"] == "random")
    cells = script.row(variant).split(" | ")
    assert cells[5].startswith(f"{want['acc']:.3f} [")                      # robust at the count read
    assert cells[4].split(" / ")[2] == f"{want['acc']:.3f}"                 # the same in the 1 / 4 / 8 column
    assert cells[7] == str(want["n"])


def test_a_model_missing_from_its_grid_is_an_error(script):
    with pytest.raises(KeyError, match="no rows"):
        script.row({"name": "x", "what": "y", "grid": "studies/ablation/race_narrow/results.json",
                    "model": "not_there", "read_at": 1, "training": "t"})
