"""Every attention head on its own, glance by glance, for the clean and the adversarial image:
what the mean over heads hides."""

from __future__ import annotations

from dataclasses import replace

import streamlit as st

from ui.scene import Scene, current
from viz.frames import heads_sheet


def render(scene: Scene) -> None:
    model = scene.choice.model
    if not model.has_attention:
        st.info("This model has no attention maps (global average pooling): there are no heads to show.")
        return
    display = replace(scene.display, zoom=max(1, scene.display.zoom - 1))  # many small panels
    box = scene.subject.box
    runs = [("clean", scene.subject.image, scene.clean)]
    if scene.shown is not None:
        runs.append(("adversarial", scene.shown.image, scene.shown.prediction))
    for name, image, pred in runs:
        st.markdown(f"**{name}**: {scene.class_names[pred.label]} ({pred.probs.max():.0%})")
        st.image(heads_sheet(image, pred.attention, display, box),
                 caption=f"{model.heads} heads (rows) by {pred.attention.shape[0]} glances (columns)")


if __name__ == "__main__":
    render(current())
