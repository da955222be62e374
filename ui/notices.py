"""What the page says about an image before showing it: how it was prepared, how far it is from
the model's training images, and which listed models it does fit (with a button to open one)."""

from __future__ import annotations

import streamlit as st

from compute.catalog import better_fits
from compute.images import domain_warnings

from .resources import catalog
from .sidebar import ImageChoice, ModelChoice


def image_notices(picked: ImageChoice, choice: ModelChoice) -> None:
    for note in picked.notes:
        st.caption(note)
    far = domain_warnings(picked.own_pixels, choice.model.info.input_stats)
    for warning in far:
        st.warning(f"This image is far from the training data: {warning}. Predictions may mean little.")
    if far:
        offer_better_fit(picked, choice)


def offer_better_fit(picked: ImageChoice, choice: ModelChoice) -> None:
    """Name the listed models this image is not far from, with a button that opens each."""
    def switch(label: str) -> None:
        st.session_state["model_choice"] = label

    for entry in better_fits(picked.own_pixels, catalog()[0], choice.stem)[:3]:
        meta = entry.metadata
        about = meta.get("description") or f"{len(meta.get('class_names', []))} classes"
        st.info(f"This image looks like the training data of **{entry.path.stem}** "
                f"({meta.get('task', 'another task')}): {about}")
        st.button(f"Open {entry.path.stem}", key=f"fit_{entry.label}", on_click=switch, args=(entry.label,))
