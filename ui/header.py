"""The strip above every view: the glances animated over the clean and the adversarial image,
and the top-5 of each."""

from __future__ import annotations

import streamlit as st

from viz.figures import glance_figure

from .scene import Scene
from .widgets import outcome_text, top5


def render(scene: Scene) -> None:
    names, run, shown = scene.class_names, scene.run, scene.shown
    left, right = st.columns([3, 1])
    with left:
        st.plotly_chart(glance_figure(scene.shown_record(), scene.display), key="glances_chart")
    with right:
        top5(scene.clean, names, "Clean")
        if shown is not None:
            top5(shown.prediction, names, "Adversarial")
            st.caption(f"The attack {outcome_text(run, names)} against {run.glances} glances "
                       f"in {run.seconds:.2f} s.")
            if run.glances != scene.subject.glances:
                st.caption(f"Crafted against {run.glances} glances, read here at {scene.subject.glances}: the model "
                           f"now predicts {names[shown.prediction.label]}.")
        else:
            st.caption("Press **Run attack** in the sidebar to attack this image.")
