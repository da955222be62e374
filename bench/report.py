"""Shared by the bench scripts: print a markdown report and optionally save it."""

from __future__ import annotations


def emit(lines: list[str], md_path: str | None) -> None:
    text = "\n".join(lines)
    print(text)
    if md_path:
        with open(md_path, "w") as f:
            f.write(text + "\n")
