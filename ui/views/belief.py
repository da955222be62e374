"""The belief's path: the model's state after each glance on the plane stored with its checkpoint,
over the classes' clouds, for the clean image and the sidebar's adversarial one. Where does the
attack send the belief, and when?"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import streamlit as st

from compute.belief import belief_path, path_unavailable, paths_csv, settles
from compute.cache import digest
from model.records import BeliefPath
from ui.resources import lab
from ui.scene import Scene, current
from ui.state import MAX_GLANCES
from ui.widgets import guarded, job_done, run_or_stop
from viz.belief import belief_figure, belief_image
from viz.files import MIME, to_png


def path_of(scene: Scene, image: np.ndarray, image_key: str, glances: int) -> BeliefPath:
    """The path of ``image`` (named by ``image_key``) over ``glances`` glances, cached: one forward pass."""
    s = scene.subject
    key = digest(s.model_key, image_key, glances)
    return lab().kept("belief", key, lambda: belief_path(s.model, image, glances), gated=False)


def attack_button(scene: Scene) -> None:
    """The sidebar's attack run from here, with progress and Stop (the clean path stays)."""
    if scene.cfg is None:
        st.caption("Fix the attack settings in the sidebar to follow an adversarial image's path too.")
        return
    attacker, cfg, seed = scene.attacker, scene.cfg, scene.seed
    job = digest(lab().attack_key(attacker, cfg, seed))
    if not run_or_stop(job, f"Run the sidebar's attack (PGD-{cfg.steps}) to follow the adversarial path", "belief",
                       help="The same attack as the sidebar's Run attack button."):
        return
    ok = guarded("Attacking", lambda p: lab().attack(attacker, cfg, seed, progress=p))
    job_done(job)
    if ok is not None:
        st.rerun()  # the sidebar's attack has run: the page shows it everywhere


def describe_paths(paths: list[tuple[str, BeliefPath]], names: list[str]) -> str:
    """When each path settles on its final class, in words."""
    parts = []
    for name, path in paths:
        t = settles(path)
        parts.append(f"the {name} image is read as {names[int(path.predicted[-1])]} from glance {t} on")
    text = "; ".join(parts)
    return text[:1].upper() + text[1:] + "."


def render(scene: Scene) -> None:
    choice = scene.choice
    model, stem = choice.model, choice.stem or Path(choice.name).stem
    reason = path_unavailable(model, stem)
    if reason:
        st.info(reason)
        return
    projection = model.projection
    st.session_state.setdefault("path_glances", min(projection.glances, MAX_GLANCES))
    glances = st.slider("Glances followed", 1, MAX_GLANCES, key="path_glances",
                        help="How long the belief is followed (the clouds are the states after "
                             f"{projection.glances} glances).")
    s, names = scene.subject, scene.class_names
    paths = [("clean", path_of(scene, s.image, s.image_key, glances))]
    run = scene.run
    if run is not None:
        _, attack = lab().attack_key(scene.attacker, run.config, run.seed)
        paths.append(("adversarial", path_of(scene, run.image, attack, glances)))
    controls = st.container()
    figure = belief_figure(projection.clouds, paths, names,
                           f"The belief after each of {glances} glance{'s' if glances > 1 else ''}")
    st.plotly_chart(figure, key="belief_chart")
    explained = projection.record.get("explained_variance") or [float("nan")] * 2
    st.caption(f"Each point is the state the model's answer is decoded from after that glance, numbered by glance and "
               f"filled with the colour of the class read after it; clean solid, adversarial dashed. The plane holds "
               f"{explained[0]:.0%} + {explained[1]:.0%} of the states' variance: "
               f"{projection.record.get('fit', 'fitted on test canvases')}. Clouds: "
               f"{projection.record.get('clouds', 'test canvases per class')}.")
    st.caption(describe_paths(paths, names))
    if run is not None:
        st.caption(f"The adversarial image is the sidebar's attack, crafted against {run.glances} glance"
                   f"{'s' if run.glances > 1 else ''} and followed here for {glances}.")
    with controls:
        if run is None:
            attack_button(scene)
    stem = f"belief_{stem}_{Path(s.image_name).stem}"
    c1, c2 = st.columns(2)
    c1.download_button("PNG", lambda: to_png(belief_image(projection.clouds, paths, names)), f"{stem}.png",
                       MIME["png"], key="belief_png", on_click="ignore")
    c2.download_button("CSV", paths_csv(paths, names), f"{stem}.csv", "text/csv", key="belief_csv",
                       on_click="ignore")


if __name__ == "__main__":
    render(current())
