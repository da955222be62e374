"""captum Saliency and Integrated Gradients beside the attention, for the clean and the
adversarial image's predicted class."""

from __future__ import annotations

import streamlit as st

from ui.resources import lab
from ui.scene import Scene, current
from viz.frames import attribution_image, glance_frames


def render(scene: Scene) -> None:
    subject, run, display = scene.subject, scene.shown, scene.display
    try:
        with st.spinner("Computing Saliency and Integrated Gradients…"):
            attrs = lab().attributions(subject, run)
    except (RuntimeError, MemoryError) as exc:  # BusyError included
        st.warning(f"Attributions are not available right now: {exc}")
        return
    runs = [("clean", subject.image, scene.clean)] + ([("adversarial", run.image, run.prediction)] if run else [])
    names = scene.class_names
    for name, img, pred in runs:
        st.markdown(f"**{name}** (for its predicted class, {names[pred.label]})")
        cols = st.columns(3)
        mean_attention = pred.attention.mean(axis=0, keepdims=True)  # over glances
        cols[0].image(glance_frames(img, mean_attention, display, subject.box, scanpath=False)[0],
                      caption="attention (mean over glances)", width=240)
        cols[1].image(attribution_image(attrs[f"saliency/{name}"], img, display.zoom, display.cmap),
                      caption="captum Saliency |∂logit/∂x|", width=240)
        cols[2].image(attribution_image(attrs[f"integrated_gradients/{name}"], img, display.zoom, display.cmap),
                      caption="captum Integrated Gradients (black baseline)", width=240)


if __name__ == "__main__":
    render(current())
