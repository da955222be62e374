"""What the page says about an image before showing it: how it was prepared, whether it is inside
the model's training domain (the model's own score, explained by the pixel statistics), and which
listed models it does fit (with a button to open one)."""

from __future__ import annotations

import streamlit as st

from compute.catalog import Entry, better_fits
from compute.lab import Subject
from model.checkpoint import CheckpointError
from model.data import CANVAS_TASKS

from .resources import catalog, lab, open_entry
from .sidebar import ImageChoice, ModelChoice


def image_notices(picked: ImageChoice, choice: ModelChoice) -> None:
    for note in picked.notes:
        st.caption(note)
    subject = Subject(choice.model, choice.key, picked.image, picked.key, picked.name, -1, picked.box, 1)
    verdict = lab().domain(subject, picked.own_pixels)
    if verdict.outside:
        st.warning(f"This image is far from the training data: {verdict.sentence()}. Predictions may mean little.")
        offer_better_fit(picked, choice)


def input_kind(task: str) -> str:
    """Canvases (every canvas task) or the task itself (natural photos, an image folder)."""
    return "canvases" if task in CANVAS_TASKS else task


def fits(entry: Entry, picked: ImageChoice) -> bool:
    """Whether the image is inside ``entry``'s own domain, by its own score where it has a fit (a
    model of its size only: one that takes another size reads the image refitted, as an upload)."""
    try:
        model, sha = open_entry(entry)
    except (CheckpointError, OSError):
        return False
    if model.domain is None or picked.image.shape[0] != model.config.image_size:
        return True
    key = ModelChoice(model, sha, entry.path.name, entry.path.stem).key
    subject = Subject(model, key, picked.image, picked.key, picked.name, -1, None, 1)
    return not lab().domain(subject, picked.own_pixels).outside


def offer_better_fit(picked: ImageChoice, choice: ModelChoice) -> None:
    """Name the listed models this image is not far from, with a button that opens each."""
    def switch(label: str) -> None:
        st.session_state["model_choice"] = label

    # an image far from one canvas task is far from every canvas task: offer models of another kind of input
    others = [e for e in catalog()[0] if input_kind(e.task) != input_kind(choice.model.info.task)]
    for entry in [e for e in better_fits(picked.own_pixels, others, choice.stem) if fits(e, picked)][:3]:
        meta = entry.metadata
        about = meta.get("description") or f"{len(meta.get('class_names', []))} classes"
        st.info(f"This image looks like the training data of **{entry.path.stem}** "
                f"({meta.get('task', 'another task')}): {about}")
        st.button(f"Open {entry.path.stem}", key=f"fit_{entry.label}", on_click=switch, args=(entry.label,))
