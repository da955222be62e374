"""What the page says about an image before showing it: how it was prepared, whether it is inside
the model's training domain (the model's own score, explained by the pixel statistics), and which
listed models it does fit (with a button to open one)."""

from __future__ import annotations

import streamlit as st

from compute.catalog import better_fits
from compute.lab import Subject

from .resources import catalog, lab
from .sidebar import ImageChoice, ModelChoice


def image_notices(picked: ImageChoice, choice: ModelChoice) -> None:
    for note in picked.notes:
        st.caption(note)
    subject = Subject(choice.model, choice.key, picked.image, picked.key, picked.name, -1, picked.box, 1)
    verdict = lab().domain(subject, picked.own_pixels)
    if verdict.outside:
        st.warning(f"This image is far from the training data: {verdict.sentence()}. Predictions may mean little.")
        offer_better_fit(picked, choice)


def offer_better_fit(picked: ImageChoice, choice: ModelChoice) -> None:
    """Name the listed models this image is not far from, with a button that opens each."""
    def switch(label: str) -> None:
        st.session_state["model_choice"] = label

    others = [e for e in catalog()[0] if e.task != choice.model.info.task]  # far from one canvas model: from all
    for entry in better_fits(picked.own_pixels, others, choice.stem)[:3]:
        meta = entry.metadata
        about = meta.get("description") or f"{len(meta.get('class_names', []))} classes"
        st.info(f"This image looks like the training data of **{entry.path.stem}** "
                f"({meta.get('task', 'another task')}): {about}")
        st.button(f"Open {entry.path.stem}", key=f"fit_{entry.label}", on_click=switch, args=(entry.label,))
