"""What the checkpoint says about itself, readable: what it is, how it was trained, what it
measured on its task's test canvases; then the whole metadata."""

from __future__ import annotations

from typing import Any

import streamlit as st

from compute.catalog import describe
from ui.scene import Scene, current


def _text(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, dict):
        return ", ".join(f"{k} {_text(v)}" for k, v in value.items())
    return "-" if value is None else str(value)


def facts(described: dict[str, Any]) -> dict[str, list[str]]:
    """The metadata a person wants first, one row per fact, the test metrics left to their own table."""
    rows = {k: v for k, v in described.items() if k != "test metrics"}
    return {"": list(rows), "value": [_text(v) for v in rows.values()]}


def metrics(described: dict[str, Any]) -> dict[str, list[str]] | None:
    test = described.get("test metrics")
    if not isinstance(test, dict) or not test:
        return None
    return {"measured on the test canvases": [k.replace("_", " ") for k in test],
            "value": [_text(v) for v in test.values()]}


def render(scene: Scene) -> None:
    model = scene.choice.model
    meta = dict(model.metadata)
    described = describe(meta)
    st.table(facts(described), border="horizontal", hide_index=True)  # wraps long values instead of cutting them
    table = metrics(described)
    if table:
        st.table(table, border="horizontal", hide_index=True)
    else:
        st.caption("This checkpoint stores no test metrics: `s3ta-evaluate floors --checkpoint ... --write-metadata` "
                   "measures them.")
    race = model.info.race
    st.caption("A robustness race is stored (see Race)." if race else "No robustness race is stored.")
    with st.expander("Full metadata"):
        st.json({k: v for k, v in meta.items() if k != "history"}, expanded=False)


if __name__ == "__main__":
    render(current())
