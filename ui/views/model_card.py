"""What the checkpoint says about itself: its task, recipe and measured metrics, then the whole
metadata."""

from __future__ import annotations

import streamlit as st

from compute.catalog import describe
from ui.scene import Scene, current


def render(scene: Scene) -> None:
    meta = scene.choice.model.metadata
    st.json(describe(meta), expanded=False)
    with st.expander("Full metadata"):
        st.json({k: v for k, v in meta.items() if k != "history"}, expanded=False)


if __name__ == "__main__":
    render(current())
