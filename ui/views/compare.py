"""The sidebar's attack (same settings, seed, target and random start) on the model in use and on
a second one: which holds, and where each one's attention goes."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import streamlit as st

from compute.catalog import Entry, compare_default
from compute.catalog import partners as compatible
from compute.studies import compare_setting, dataset_race, incompatibility
from model.checkpoint import CheckpointError
from ui.budget import view_attack
from ui.resources import catalog, lab, open_entry
from ui.scene import Scene, current
from ui.sidebar import ModelChoice
from ui.widgets import guarded
from viz.figures import compare_figure
from viz.files import MIME, to_html, to_png
from viz.frames import compare_panels


def partners(choice: ModelChoice) -> list[Entry]:
    """The listed models one attack can be compared on: the same classes in the same order and
    the same input size (read from their metadata, before loading them)."""
    return compatible(catalog()[0], choice.model.class_names, choice.model.config.image_size, choice.stem)


def partner(task: str, entries: list[Entry]) -> str:
    """The chosen partner's label: the user's pick, or the task's own baseline on a first visit
    and after switching to a model of another task."""
    ss = st.session_state
    if ss.get("_compare_task") != task:
        ss["_compare_task"] = task
        picked = next((e for e in entries if e.label == ss.get("compare_model")), None)
        if picked is None or picked.task != task:
            ss["compare_model"] = compare_default(entries, task).label
    if ss.get("compare_model") not in [e.label for e in entries]:  # e.g. the model in use was picked
        ss["compare_model"] = compare_default(entries, task).label
    labels = [e.label for e in entries]
    return st.selectbox("Compare with", labels, key="compare_model",
                        help="The same image, attack settings, target and seed run against both models.")


def render(scene: Scene) -> None:
    choice, subject, cfg, seed = scene.choice, scene.attacker, scene.cfg, scene.seed
    entries = partners(choice)
    if not entries:
        model = choice.model
        st.info(f"No other listed model knows {choice.name}'s {len(model.class_names):,} classes at its "
                f"{model.config.image_size} px input, so no second model can be attacked towards the same target "
                f"and compared. Put one in the models folder (models/ or $S3TA_MODELS_DIR) to compare them; "
                f"the Attributions view shows where this model's gradients point meanwhile.")
        return
    pick = partner(choice.model.info.task, entries)
    entry = next(e for e in entries if e.label == pick)
    try:
        other, sha = open_entry(entry)
    except (CheckpointError, OSError) as exc:
        st.error(f"Cannot open {entry.path.name}: {exc}")
        return
    problem = incompatibility(subject.model, other)
    if problem:
        st.error(f"{choice.name} and {entry.path.name} cannot be compared: {problem}.")
        return
    second = ModelChoice(other, sha, entry.path.name, entry.path.stem)
    other_subject = replace(subject, model=other, model_key=second.key)
    setting = compare_setting(dataset_race(subject.model.metadata), subject.glances, dataset_race(other.metadata),
                              (Path(choice.name).stem, entry.path.stem))
    cfg = view_attack(cfg, setting, "compare_budget")
    runs = [lab().cached_attack(s, cfg, seed) for s in (subject, other_subject)]
    if any(r is None for r in runs):
        if not st.button(f"Run the attack on both models ({cfg.steps} steps each)", key="run_compare"):
            st.caption("The same attack (settings, seed, target, random start) on the model in use and on the "
                       "one chosen here.")
            return
        if guarded("Attacking both models", lambda p: lab().compare(subject, other_subject, cfg, seed, p)):
            st.rerun()  # draw the page again from the cache: the main view shows the attack too
        return
    names, display = scene.class_names, scene.display
    rows = [(Path(choice.name).stem, subject.model.has_attention, runs[0]),
            (Path(second.name).stem, other.has_attention, runs[1])]
    figure = compare_figure(rows, names, subject.box, display)
    st.plotly_chart(figure, key="compare_chart")
    sheet, notes = compare_panels(subject.image, rows, names, subject.box, display)
    st.image(sheet, caption="adversarial image · amplified perturbation · attention, one row per model")
    for note in notes:
        st.caption(note)
    stem = f"compare_{Path(choice.name).stem}_{Path(second.name).stem}"
    c1, c2 = st.columns(2)
    # deferred: the files are encoded on click, not on every rerun of the open view (the HTML
    # inlines 3.5 MB of plotly.js)
    c1.download_button("PNG", lambda: to_png(sheet), f"{stem}.png", MIME["png"], key="compare_png",
                       on_click="ignore")
    c2.download_button("HTML", lambda: to_html([figure], "S3TA Lab: compare", notes), f"{stem}.html",
                       MIME["html"], key="compare_html", on_click="ignore")


if __name__ == "__main__":
    render(current())
