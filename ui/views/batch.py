"""The sidebar's attack on every gallery sample or on a set of uploads: how often it reaches its
goal, and how much attention it pulls off each object."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import streamlit as st

from compute.images import MAX_FILE_BYTES, ImageError, prepare_image
from compute.lab import Subject
from compute.studies import MAX_BATCH, batch_csv
from model.records import Box
from ui.resources import lab, samples
from ui.scene import Scene, current
from ui.state import UPLOAD_TYPES, sample_key, upload_key
from ui.widgets import guarded, thumbnail


@dataclass(frozen=True)
class Item:
    """One image of the batch: its name, pixels, true label when known, box and cache key."""

    name: str
    image: np.ndarray
    label: int | None
    box: Box | None
    key: str


def gallery_items(scene: Scene) -> list[Item]:
    model = scene.choice.model
    size, names = model.config.image_size, scene.class_names
    return [Item(s.name, s.image, s.label_for(names), s.box, sample_key(s.name))
            for s in samples(model.info.task) if s.image.shape[:2] == (size, size)]


def upload_items(size: int) -> list[Item]:
    ups = st.file_uploader(f"Images (at most {MAX_BATCH})", type=UPLOAD_TYPES, accept_multiple_files=True,
                           key="batch_uploads", max_upload_size=MAX_FILE_BYTES // 2**20)
    if len(ups or []) > MAX_BATCH:
        st.warning(f"{len(ups)} images: the batch takes the first {MAX_BATCH}.")
    items = []
    for up in (ups or [])[:MAX_BATCH]:
        data = up.getvalue()
        try:
            prepared = prepare_image(data, size, "letterbox")
        except ImageError as exc:
            st.caption(f"skipped {up.name}: {exc}")
            continue
        items.append(Item(up.name, prepared.image, None, None, upload_key(data, "letterbox")))
    return items


def render(scene: Scene) -> None:
    model, cfg, seed, names = scene.choice.model, scene.cfg, scene.seed, scene.class_names
    size = model.config.image_size
    source = st.radio("Images", ["The gallery", "Uploaded images"], horizontal=True, key="batch_source")
    if source == "The gallery":
        items = gallery_items(scene)
        if not items:
            st.warning(f"The gallery holds canvases of another size than this model's {size} px.")
            return
    else:
        items = upload_items(size)
        if not items:
            st.caption("Upload images here to attack them all with the sidebar's settings.")
            return
    subjects = []
    for item in items:
        s = Subject(model, scene.choice.key, item.image, item.key, item.name, -1, item.box, scene.attack.glances)
        # no known label: the attack moves away from the clean prediction, as on the page
        subjects.append(replace(s, label=lab().clean(s).label if item.label is None else item.label))
    found = lab().batch_rows(subjects, cfg, seed)
    missing = sum(r is None for r in found)
    if missing:
        what = f"Attack all {len(subjects)} images" if missing == len(subjects) else f"Attack the other {missing}"
        if st.button(what, key="run_batch"):
            if guarded(f"Attacking {missing} images", lambda p: lab().batch(subjects, cfg, seed, p), stop="stop_batch"):
                st.rerun()
            return
        if missing == len(subjects):
            st.caption("The images are attacked side by side; each attack is cached like the page's own, so "
                       "picking an image afterwards shows it at once.")
            return
        st.caption(f"The table shows the {len(subjects) - missing} of {len(subjects)} attacks already done: "
                   "those a stopped run had finished, or run one at a time on the page.")
    done = [(s, r) for s, r in zip(subjects, found) if r is not None]
    rows = [r for _, r in done]
    runs = [lab().cached_attack(s, cfg, seed) for s, _ in done]
    table = {"clean": [thumbnail(s.image) for s, _ in done],
             "adversarial": [thumbnail(r.image) if r is not None else None for r in runs],
             "image": [r.name for r in rows], "label": [names[r.label] for r in rows],
             "target": [names[r.target] for r in rows], "success": [r.success for r in rows],
             "adversarial prediction": [names[r.adversarial_class] for r in rows],
             "mass in box, clean": [r.mass_clean for r in rows],
             "mass in box, adversarial": [r.mass_adversarial for r in rows]}
    st.metric("Attacks that reached their goal", f"{sum(r.success for r in rows)} of {len(rows)}")
    st.dataframe(table, hide_index=True, key="batch_table", column_config={
        "clean": st.column_config.ImageColumn("clean"), "adversarial": st.column_config.ImageColumn("adversarial"),
        "mass in box, clean": st.column_config.NumberColumn(format="%.3f"),
        "mass in box, adversarial": st.column_config.NumberColumn(format="%.3f")})
    st.download_button("CSV", batch_csv(rows, names), "batch.csv", "text/csv", key="batch_csv", on_click="ignore")

if __name__ == "__main__":
    render(current())
