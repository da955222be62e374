"""Download what is shown: GIF, WebM, PNG strip, standalone HTML and NPZ, with the checkpoint,
image, attack and outcome recorded in the files' metadata."""

from __future__ import annotations

import streamlit as st

from compute.lab import Lab
from ui.scene import Scene, current
from viz.files import FORMATS, MIME, export_metadata, export_stem, render_exports


def render(scene: Scene) -> None:
    subject, run, display, choice = scene.subject, scene.shown, scene.display, scene.choice
    key = (subject.key, None if run is None else Lab.attack_key(subject, run.config, run.seed), display)
    prepared = st.session_state.get("exports")
    if st.button("Prepare exports", key="prepare_exports",
                 help="GIF, WebM, PNG strip, standalone HTML and NPZ of what is shown"):
        with st.spinner("Rendering exports…"):
            shown = scene.shown_record()
            meta = export_metadata(shown, {"name": choice.name, "sha256": choice.sha256}, subject.image_name,
                                   scene.picked.sha256, subject.glances)
            files = render_exports(shown, display, meta, title=f"S3TA Lab: {subject.image_name}")
        st.session_state["exports"] = prepared = {"key": key, "files": files}
    if not prepared or prepared["key"] != key:
        st.caption("Exports follow the current image, attack and display settings.")
        return
    stem = export_stem(subject.image_name, run is not None)
    cols = st.columns(len(FORMATS))
    for col, fmt in zip(cols, FORMATS):
        data = prepared["files"][fmt]
        col.download_button(f"{fmt.upper()} ({len(data) / 1024:.0f} KB)", data, f"{stem}.{fmt}", MIME[fmt],
                            key=f"download_{fmt}", on_click="ignore")


if __name__ == "__main__":
    render(current())
