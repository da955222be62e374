"""A black-box attack on the shown image: Square Attack reads only the model's scores, never its
gradients, so a model that holds against PGD only because its gradients mislead falls to it.
The attention drift over the queries, like PGD's drift over its steps."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from compute.black_box import (
    DEFAULT_SQUARE,
    MAX_PAGE_QUERIES,
    black_box,
    cached_square,
    square_csv,
)
from compute.lab import Subject
from model.records import SquareRun
from model.square import SquareConfig
from ui.resources import lab
from ui.scene import Scene, current
from ui.state import MAX_EPS_255, MAX_EPS_L2, SQUARE_NORMS, black_box_settings, remember_black_box
from ui.widgets import guarded
from viz.figures import query_curve_figure, query_drift_figure
from viz.files import MIME, to_png
from viz.frames import black_box_sheet


def defaults(scene: Scene) -> None:
    """The settings it drew last, or on first opening: the sidebar's norm and budget (16/255 when
    its settings are invalid), 1,000 queries. A link may have set them already."""
    side = scene.cfg
    ss = st.session_state
    for key, value in black_box_settings().items():
        ss.setdefault(key, value)
    ss.setdefault("bb_norm", side.norm if side is not None else DEFAULT_SQUARE.norm)
    ss.setdefault("bb_eps", round(side.eps * 255, 2) if side is not None and side.norm == "linf"
                  else round(DEFAULT_SQUARE.eps * 255, 2))
    ss.setdefault("bb_eps_l2", float(side.eps) if side is not None and side.norm == "l2" else 2.0)
    ss.setdefault("bb_queries", DEFAULT_SQUARE.queries)


def settings(scene: Scene) -> SquareConfig | None:
    """The view's attack, from its own widgets (norm, budget, queries) and the sidebar's target;
    None, with a message saying what is allowed, when a value is out of range."""
    defaults(scene)
    c1, c2, c3 = st.columns(3)
    norm = c1.radio("Norm", list(SQUARE_NORMS), format_func=SQUARE_NORMS.get, horizontal=True, key="bb_norm")
    if norm == "linf":
        eps_shown = c2.number_input("Epsilon (/255)", step=1.0, key="bb_eps",
                                    help=f"Largest change of any pixel value, in 1/255 units (0 to {MAX_EPS_255}).")
        eps, top = eps_shown / 255, MAX_EPS_255
    else:
        eps_shown = c2.number_input("Epsilon (L2 norm)", step=0.25, key="bb_eps_l2",
                                    help=f"Largest L2 norm of the perturbation, pixels in [0, 1] (0 to {MAX_EPS_L2}).")
        eps, top = eps_shown, MAX_EPS_L2
    queries = c3.number_input("Queries", step=100, key="bb_queries",
                              help=f"Forward passes per image, the starting point included (1 to "
                                   f"{MAX_PAGE_QUERIES:,} here; `s3ta-evaluate square` takes more).")
    remember_black_box()
    problems = []
    if not 0 < eps_shown <= top:
        unit = "/255" if norm == "linf" else " (L2)"
        problems.append(f"Epsilon must be above 0 and at most {top:g}{unit}; it is {eps_shown:g}.")
    if not (float(queries).is_integer() and 1 <= queries <= MAX_PAGE_QUERIES):
        problems.append(f"Queries must be a whole number from 1 to {MAX_PAGE_QUERIES:,} on the page (each is a "
                        f"forward pass: {MAX_PAGE_QUERIES:,} take about a minute on the canvases); it is "
                        f"{queries:,}. `s3ta-evaluate square --queries N` runs larger budgets on the test set.")
    for problem in problems:
        st.error(problem)
    if problems:
        return None
    side = scene.cfg
    target = side.target if side is not None else DEFAULT_SQUARE.target
    target_class = side.target_class if side is not None else None
    return SquareConfig(norm=norm, eps=float(eps), queries=int(queries), target=target, target_class=target_class)


def describe(cfg: SquareConfig) -> str:
    size = f"{cfg.eps * 255:g}/255" if cfg.norm == "linf" else f"{cfg.eps:g} (L2)"
    goal = {"random": "a random wrong class", "untargeted": "any wrong class", "class": "a chosen class"}[cfg.target]
    return f"Square Attack, {SQUARE_NORMS[cfg.norm]} {size}, {cfg.queries:,} queries, towards {goal}"


def beside_pgd(scene: Scene, cfg: SquareConfig, run: SquareRun) -> str | None:
    """A sentence setting this run beside the sidebar's PGD on this image, when that ran at the same budget."""
    pgd = scene.run
    if pgd is None or pgd.config.norm != cfg.norm or abs(pgd.config.eps - cfg.eps) > 1e-9 \
            or pgd.config.target != cfg.target or pgd.glances != run.glances:
        return None
    both = {(True, True): "both reach their goal", (False, False): "neither reaches its goal",
            (True, False): "PGD reaches its goal and Square does not",
            (False, True): "Square reaches its goal and PGD does not: on this image the gradients lead PGD "
                           "astray (what gradient masking looks like), so PGD's miss here proves no robustness"}
    return (f"Beside the sidebar's PGD-{pgd.config.steps} at the same budget and target: "
            f"{both[(pgd.success, run.success)]}.")


def show(scene: Scene, subject: Subject, cfg: SquareConfig, run: SquareRun) -> None:
    names, model = scene.class_names, subject.model
    outcome = ("reached" if run.success else "did not reach") + " " + run.goal(names)
    c1, c2, c3 = st.columns(3)
    c1.metric("Outcome", "reached" if run.success else "missed", help=f"The attack {outcome}.")
    c2.metric("Queries used", f"{run.queries:,} of {cfg.queries:,}")
    c3.metric("Time", f"{run.seconds:.1f} s")
    if run.stopped:
        st.warning(f"Stopped after {run.queries:,} of {cfg.queries:,} queries: shown is the best iterate so far "
                   f"(it {outcome}). Run it again to spend the whole budget.")
    if not model.has_attention:
        st.info(f"{scene.choice.name} has no attention (global average pooling): attention does not apply here. "
                "The attack, its outcome and the images still do.")
    clean = lab().clean(subject)
    sheet = black_box_sheet(subject.image, clean, run, names, subject.box, scene.display, model.has_attention)
    st.image(sheet, caption="clean · adversarial (each with the last glance's attention) · amplified perturbation")
    against = f" against {run.glances} glance{'s' if run.glances > 1 else ''}" if model.max_glances > 1 else ""
    st.caption(f"The attack {outcome}{against}; the model reads {names[run.prediction.label]} "
               f"({run.prediction.probs.max():.0%}).")
    sentence = beside_pgd(scene, cfg, run)
    if sentence:
        st.caption(sentence)
    st.plotly_chart(query_drift_figure(run, names, subject.box, scene.display, model.has_attention),
                    key="square_drift_chart")
    st.plotly_chart(query_curve_figure(run, names), key="square_curve_chart")
    stem = f"square_{Path(scene.choice.name).stem}_{Path(subject.image_name).stem}"
    d1, d2 = st.columns(2)
    d1.download_button("PNG", lambda: to_png(sheet), f"{stem}.png", MIME["png"], key="square_png", on_click="ignore")
    d2.download_button("CSV", lambda: square_csv(run, subject.image, names), f"{stem}.csv", "text/csv",
                       key="square_csv", on_click="ignore")


def render(scene: Scene) -> None:
    subject, seed = scene.attacker, scene.seed
    cfg = settings(scene)
    if cfg is None:
        return
    st.caption(f"Attack used here: {describe(cfg)}; the target, seed and glance count are the sidebar's. "
               "It reads the model's scores only (no gradients), one forward pass per query.")
    if subject.model.config.image_size > 128:
        st.caption(f"This model takes {subject.model.config.image_size} px images: each query costs several "
                   "canvas queries, so expect tens of seconds or more per thousand queries on a CPU.")
    run = cached_square(lab(), subject, cfg, seed)
    if run is None or run.stopped:
        again = "" if run is None else " again from the start"
        slot = st.empty()
        if slot.button(f"Run Square Attack{again} ({cfg.queries:,} queries)", key="run_square", type="primary"):
            slot.empty()
            # Stop (or any control) ends this page run inside a progress update; the best iterate
            # so far is kept by the Lab and shown by the page run that follows
            run = guarded(f"Square Attack ({cfg.queries:,} queries)",
                          lambda p: black_box(lab(), subject, cfg, seed, p), stop="stop_square") or run
        if run is None:
            st.caption("A score-based attack: if it succeeds where PGD fails at the same budget, PGD's gradients "
                       "mislead it (gradient masking). Results are cached like the page's attack.")
            return
    show(scene, subject, cfg, run)


if __name__ == "__main__":
    render(current())
