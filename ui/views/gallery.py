"""The shipped sample canvases of the model's task, each with its item's box."""

from __future__ import annotations

import streamlit as st

from ui.resources import gallery, thumbnails
from ui.scene import Scene, current


def render(scene: Scene) -> None:
    shown, canvases = gallery(scene.choice.model.info.task)
    if any(s.box is not None for s in canvases):
        st.caption(f"The shipped test canvases of {shown}, the item's box in green; pick one in the sidebar.")
    else:
        st.caption(f"The shipped sample photographs of {shown} (no item boxes); pick one in the sidebar.")
    cols = st.columns(5)
    for i, (s, thumb) in enumerate(zip(canvases, thumbnails(shown))):
        cols[i % 5].image(thumb, caption=f"{s.class_name} ({s.name})", width=150)


if __name__ == "__main__":
    render(current())
