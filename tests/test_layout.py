"""The layout's rules, read from the source: dependencies point one way (the page -> computing
-> model, drawing -> model, programs -> computing and drawing), no Streamlit below the page, the
product never imports a study, and no caller asks a model what it is by comparing ``arch``
strings."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from .conftest import ROOT

TOP_LEVEL = {"model", "viz", "compute", "ui", "programs", "app", "bench", "scripts", "studies", "tests"}
# package -> the project's top-level names it may import
ALLOWED = {
    "model": {"model"},
    "viz": {"model", "viz"},
    "compute": {"model", "compute"},
    "programs": {"model", "compute", "viz", "programs"},
    "ui": {"model", "compute", "viz", "ui", "streamlit"},
    "app.py": {"ui", "streamlit"},
    # the product's own programs: never a study (studies/ may import them, not the reverse)
    "scripts": {"model", "viz", "programs", "compute", "scripts"},
}
NEVER = {"streamlit"}  # below the page, nothing draws into a Streamlit app
STUDY_PATH = re.compile(r"[\"'/]studies\b")  # a path into studies/ written in a string
PRODUCT = ("app.py", "model", "viz", "compute", "ui", "programs", "scripts", "bench", "tests")


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
    path = ROOT / package
    return [path] if path.is_file() else sorted(path.rglob("*.py"))


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_dependencies_point_one_way(package):
    bad = []
    for path in sources(package):
        found = imports(path)
        wrong = ((found & TOP_LEVEL) | (found & NEVER)) - ALLOWED[package]
        if wrong:
            bad.append(f"{path.relative_to(ROOT)} imports {sorted(wrong)}")
    assert not bad, "\n".join(bad)


def test_nothing_outside_studies_imports_a_study():
    """Research sits beside the product: a study may import the product, never the reverse."""
    product = [p for name in PRODUCT for p in sources(name)]
    bad = [f"{path.relative_to(ROOT)}" for path in product if "studies" in imports(path)]
    assert not bad, "\n".join(bad)


def test_product_tests_read_no_study_folder():
    """A study's own checks live with it; the product's tests never open a study's files."""
    bad = [f"{path.relative_to(ROOT)}:{n}" for path in sources("tests")
           for n, line in enumerate(path.read_text().splitlines(), 1)
           if STUDY_PATH.search(line) and path.name != "test_layout.py"]
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
    for path in [ROOT / "app.py", *sources("model"), *sources("viz"), *sources("compute"), *sources("ui"),
                 *sources("programs"), *sources("bench"), *sources("scripts")]:
        for n, line in enumerate(path.read_text().splitlines(), 1):
            if pattern.search(line) and path.name not in ("classifier.py",):
                offenders.append(f"{path.relative_to(ROOT)}:{n}: {line.strip()}")
    assert not offenders, "\n".join(offenders)
