"""S3TA Lab: where the attention of the shipped S3TA model goes, glance by glance.

    streamlit run app.py

UI only: the model, metrics and drawing live in ``model/`` and ``viz/``.
"""

from __future__ import annotations

import numpy as np
import streamlit as st
import torch

from model import load_model
from model.inference import Prediction, predict
from viz.metrics import box_mass
from viz.overlay import draw_box, enlarge, overlay, to_uint8
from viz.samples import Sample, load_samples


@st.cache_resource
def get_model() -> torch.nn.Module:
    """Loaded once per process and shared read-only by every session."""
    device = "cuda" if torch.cuda.is_available() else "cpu"
    return load_model(device=device)


@st.cache_resource
def get_samples() -> list[Sample]:
    return load_samples()


@st.cache_data(max_entries=256)
def run_model(sample_name: str, glances: int) -> Prediction:
    sample = next(s for s in get_samples() if s.name == sample_name)
    return predict(get_model(), sample.image, glances)


def controls_ui(samples: list[Sample], default_glances: int) -> tuple[Sample, int, str]:
    st.sidebar.header("Input")
    names = {f"{s.class_name} ({s.name})": s for s in samples}
    sample = names[st.sidebar.selectbox("Sample", list(names))]
    glances = st.sidebar.slider("Glances", 1, 16, default_glances)
    head = st.sidebar.radio("Heads", ["mean", *[f"head {i}" for i in range(get_model().config.heads)]],
                            horizontal=True)
    return sample, glances, head


def main() -> None:
    st.set_page_config(page_title="S3TA Lab", layout="wide")
    st.title("S3TA Lab")
    model = get_model()
    meta = model.metadata
    classes = meta["class_names"]
    st.caption(f"Model: {meta.get('task', '?')} · {model.config.arch} · "
               f"device: {next(model.parameters()).device}")
    sample, glances, head = controls_ui(get_samples(), model.config.glances)
    pred = run_model(sample.name, glances)

    maps = pred.attention.mean(axis=1) if head == "mean" else pred.attention[:, int(head.split()[1])]
    masses = box_mass(pred.attention.mean(axis=1), np.array(sample.box), sample.image.shape[:2])
    zoom = 3  # draw at 3x so 96 px canvases stay crisp and the heatmap smooth
    big, box = enlarge(sample.image, zoom), tuple(v * zoom for v in sample.box)
    left, right = st.columns([1, 2])
    with left:
        st.image(draw_box(to_uint8(big), box, thickness=2), width=288,
                 caption=f"true class: {sample.class_name}")
        st.subheader(f"Prediction: {classes[pred.label]}")
        for cls, p in pred.top(5):
            st.progress(p, text=f"{classes[cls]}: {p:.1%}")
    with right:
        st.subheader("Glances (attention over the image)")
        cols = st.columns(min(glances, 4))
        for t in range(glances):
            frame = draw_box(overlay(big, maps[t]), box, thickness=2)
            cols[t % len(cols)].image(frame, width=160,
                                      caption=f"glance {t + 1}: {classes[int(pred.step_probs[t].argmax())]}"
                                              f", on item {masses[t]:.0%}")


if __name__ == "__main__":
    main()
