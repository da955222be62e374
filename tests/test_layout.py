"""The layout's rules, read from the source: dependencies point one way (app -> viz -> model,
experiments -> model [+ viz for figures]), no Streamlit below the page, and no caller asks a
model what it is by comparing ``arch`` strings."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from .conftest import ROOT

TOP_LEVEL = {"model", "viz", "experiments", "app", "bench", "scripts", "tests", "studies"}
# package -> the project's top-level names it may import
ALLOWED = {
    "model": {"model"},
    "viz": {"model", "viz"},
    "experiments": {"model", "viz", "experiments"},
    # the product's own programs: never a study (studies/ may import them, not the reverse)
    "scripts": {"model", "viz", "experiments", "scripts"},
}
NEVER = {"streamlit"}  # below the page, nothing draws into a Streamlit app


def imports(path: Path) -> set[str]:
    """Top-level names of every absolute import in a file (relative imports stay in the package)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def sources(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_dependencies_point_one_way(package):
    bad = []
    for path in sources(package):
        found = imports(path)
        wrong = (found & TOP_LEVEL) - ALLOWED[package] | (found & NEVER)
        if wrong:
            bad.append(f"{path.relative_to(ROOT)} imports {sorted(wrong)}")
    assert not bad, "\n".join(bad)


def test_nothing_outside_studies_imports_a_study():
    """Research sits beside the product: a study may import the product, never the reverse."""
    bad = [f"{path.relative_to(ROOT)}" for path in [ROOT / "app.py", *sources("model"), *sources("viz"),
                                                    *sources("experiments"), *sources("scripts"),
                                                    *sources("bench"), *sources("tests")]
           if "studies" in imports(path)]
    assert not bad, "\n".join(bad)


def test_the_checker_sees_a_violation(tmp_path):
    bad = tmp_path / "m.py"
    bad.write_text("import os\nfrom viz.frames import overlay\nif True:\n    import streamlit as st\n")
    assert imports(bad) == {"os", "viz", "streamlit"}


def test_no_caller_compares_architecture_names():
    """Models say what they support (``has_attention``, ``heads``, ``max_glances``); only the
    registry and the config's own validation name architectures."""
    pattern = re.compile(r"""\barch\s*[!=]=|[!=]=\s*["'](s3ta|baseline)["']""")
    offenders = []
    for path in [ROOT / "app.py", *sources("model"), *sources("viz"), *sources("experiments"), *sources("bench"),
                 *sources("scripts")]:
        for n, line in enumerate(path.read_text().splitlines(), 1):
            if pattern.search(line) and path.name not in ("classifier.py",):
                offenders.append(f"{path.relative_to(ROOT)}:{n}: {line.strip()}")
    assert not offenders, "\n".join(offenders)
