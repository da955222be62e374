"""The attention across the attack's iterations: how PGD walks the attention off the object."""

from __future__ import annotations

import streamlit as st

from ui.scene import Scene, current
from viz.figures import drift_figure


def render(scene: Scene) -> None:
    st.plotly_chart(drift_figure(scene.run, scene.class_names, scene.subject.box, scene.display), key="drift_chart")


if __name__ == "__main__":
    render(current())
