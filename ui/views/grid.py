"""Attacks crafted against each glance count, each read at every count without re-attacking:
does looking longer recover the true class?"""

from __future__ import annotations

import streamlit as st

from compute.studies import GLANCE_COUNTS, dataset_race, glance_setting
from ui.budget import view_attack
from ui.resources import lab
from ui.scene import Scene, current
from ui.widgets import guarded
from viz.figures import grid_figure


def render(scene: Scene) -> None:
    subject, cfg, seed = scene.attacker, scene.cfg, scene.seed
    if subject.model.max_glances == 1:
        st.info("This model has no glances: there is no attacker or defender count to vary.")
        return
    cfg = view_attack(cfg, glance_setting(dataset_race(subject.model.metadata)), "grid_budget")
    grid = lab().cached_study("grid", subject, cfg, seed)
    if grid is None:
        counts = "/".join(map(str, GLANCE_COUNTS))
        partial = lab().partial_grid(subject, cfg, seed)
        label = (f"Run the glance grid ({len(GLANCE_COUNTS)} attacks, crafted at {counts})" if partial is None
                 else f"Run the rest of the glance grid ({len(GLANCE_COUNTS) - len(partial.crafted)} attacks)")
        if st.button(label, key="run_grid"):
            if guarded("Attacking at each glance count", lambda p: lab().glance_grid(subject, cfg, seed, progress=p),
                       stop="stop_grid"):
                st.rerun()  # the button goes; the page's own attack (one of the five) shows too
            return
        if partial is None:
            st.caption("Attacks crafted against each glance count, each read at every count without "
                       "re-attacking: does thinking longer recover the true class? The five attacks run side by side.")
            return
        st.caption(f"Rows done so far: crafted at {', '.join(map(str, partial.crafted))} (attacks finished before "
                   "a stop, or run on the page).")
        grid = partial
    names = scene.class_names
    st.plotly_chart(grid_figure(grid, names), key="grid_chart")
    st.caption("Rows: the count the attack was crafted against (its target: "
               + ", ".join(f"{n} -> {names[t]}" for n, t in zip(grid.crafted, grid.targets))
               + "). Columns: the count the model reads the adversarial image at.")


if __name__ == "__main__":
    render(current())
