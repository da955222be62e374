"""Class probabilities after each glance, for the clean and the adversarial image."""

from __future__ import annotations

import streamlit as st

from ui.scene import Scene, current
from viz.figures import probability_figure


def render(scene: Scene) -> None:
    clean, shown = scene.clean, scene.shown
    curves = {"clean": clean.step_probs} | ({"adversarial": shown.prediction.step_probs} if shown else {})
    classes = sorted({clean.label, scene.label} | ({shown.prediction.label, shown.target} if shown else set()))
    st.caption("Class probabilities after each glance (solid: clean, dashed: adversarial).")
    st.plotly_chart(probability_figure(curves, scene.class_names, classes), key="probs_chart")


if __name__ == "__main__":
    render(current())
