"""The attack's perturbation, amplified so its largest entry reaches black or white, with its norms."""

from __future__ import annotations

import streamlit as st

from compute.runs import perturbation_norms
from ui.scene import Scene, current
from viz.frames import amplified_perturbation


def render(scene: Scene) -> None:
    image, run = scene.subject.image, scene.shown
    picture, gain = amplified_perturbation(image, run.image, scene.display.zoom)
    norms = perturbation_norms(image, run.image)
    c1, c2 = st.columns([1, 2])
    c1.image(picture, caption=f"perturbation × {gain:.0f} (grey = 0)", width=288)
    c2.metric("L-inf", f"{norms['linf_255']:.1f} / 255")
    c2.metric("L2", f"{norms['l2']:.3f}")
    c2.metric("pixel values changed", f"{norms['changed']:.0%}")
    c2.caption(f"Attack norm: {run.config.norm}. The perturbation is scaled so its largest entry reaches "
               "black or white.")


if __name__ == "__main__":
    render(current())
