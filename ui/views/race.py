"""The computational race: accuracy (on the test set, stored in the checkpoint) and the true
class's probability (on this image) against attack steps, one line per glance count."""

from __future__ import annotations

import streamlit as st

from compute.catalog import race_baseline
from compute.studies import GLANCE_COUNTS, dataset_race, glance_setting, race_beside
from ui.budget import view_attack
from ui.resources import catalog, lab
from ui.scene import Scene, current
from ui.widgets import guarded
from viz.figures import image_race_figure, race_figure


def stored_race(scene: Scene) -> None:
    model = scene.choice.model
    rows = dataset_race(model.metadata)
    st.markdown("**On the test set** (stored in the checkpoint by its evaluation)")
    if not rows:
        st.caption(f"{scene.choice.name} stores no race. `s3ta-evaluate grid --checkpoints "
                   f"{scene.choice.name} --write-metadata` measures and stores one.")
        return
    settings = sorted({(r["target"], float(r["eps_255"])) for r in rows})
    labels = [f"{t} target, eps {e:g}/255" for t, e in settings]
    best = glance_setting(rows)
    first = settings.index((best.target, best.eps_255)) if best else 0
    target, eps = settings[labels.index(st.selectbox("Attack", labels, index=first, key="race_setting",
                                                     help="Opens where the glance count matters most."))]
    base = race_baseline(catalog()[0], model.metadata, model.has_attention)
    drawn = race_beside(rows, dataset_race(base.metadata) if base else None)
    st.plotly_chart(race_figure(drawn, eps, target), key="race_dataset_chart")
    n = rows[0].get("n", "?")
    beside = (f" Dashed: {base.path.stem}, the listed pooling baseline of the same task (no glances), "
              f"from its own checkpoint." if base and len(drawn) > len(rows) else "")
    st.caption(f"{n} test canvases; accuracy under PGD aimed at each glance count, by attack steps.{beside} "
               f"This is the checkpoint's stored evaluation, not the sidebar's attack.")


def image_race(scene: Scene) -> None:
    subject, cfg, seed = scene.attacker, scene.cfg, scene.seed
    st.markdown("**On this image**")
    if subject.model.max_glances == 1:
        st.caption("This model has no glances.")
        return
    cfg = view_attack(cfg, glance_setting(dataset_race(subject.model.metadata)), "race_budget")
    race = lab().cached_study("race", subject, cfg, seed)
    if race is None:
        partial = lab().partial_race(subject, cfg, seed)
        if st.button(f"Run the race on this image ({len(GLANCE_COUNTS)} attacks of {cfg.steps} steps, side by side)",
                     key="run_race"):
            if guarded("Racing", lambda p: lab().race(subject, cfg, seed, progress=p), stop="stop_race"):
                st.rerun()
            return
        if partial is None:
            return
        st.caption(f"Stopped after step {partial.steps[-1]} of {cfg.steps}: the lines so far.")
        race = partial
    st.plotly_chart(image_race_figure(race, scene.class_names), key="race_image_chart")

def render(scene: Scene) -> None:
    stored_race(scene)
    image_race(scene)


if __name__ == "__main__":
    render(current())
