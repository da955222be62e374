"""The sidebar's attack at a range of budgets on one image, on the model in use and a second one:
which model holds longer, and at what budget the attention leaves the object."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import streamlit as st

from compute.cache import digest
from compute.catalog import Entry, compare_default, partners
from compute.lab import Subject
from compute.studies import incompatibility
from compute.sweep import DEFAULT_BUDGETS, parse_budgets, strength_sweep, sweep_csv, sweep_target
from model.attacks import AttackConfig, attack_settings
from model.checkpoint import CheckpointError
from model.records import StrengthSweep
from ui.budget import describe
from ui.resources import catalog, lab, open_entry
from ui.scene import Scene, current
from ui.sidebar import ModelChoice
from ui.state import NO_PARTNER
from ui.widgets import guarded, job_done, run_or_stop
from viz.files import MIME, to_html, to_png
from viz.sweep import sweep_figure, sweep_strip


def choose_budgets() -> tuple[float, ...] | None:
    """The budgets typed in (kept in the link); None, with a message saying what is allowed, when
    they are not a valid list."""
    st.session_state.setdefault("sweep_eps", ", ".join(f"{b:g}" for b in DEFAULT_BUDGETS))
    text = st.text_input("Budgets (epsilon, /255)", key="sweep_eps",
                         help="L-inf budgets, each one copy of the image in one batched attack.")
    try:
        return parse_budgets(text)
    except ValueError as exc:
        st.error(f"These budgets cannot be swept: {exc}.")
        return None


def choose_partner(choice: ModelChoice, entries: list[Entry]) -> str:
    """The second model's file stem (or ``NO_PARTNER``): the user's or the link's pick, else the
    listed model the Compare view would open on (the task's pooling baseline)."""
    model, ss = choice.model, st.session_state
    fits = partners(entries, model.class_names, model.config.image_size, choice.stem)
    options = [NO_PARTNER] + [e.path.stem for e in entries if e.path.stem != choice.stem]
    task = model.info.task
    if ss.get("_sweep_task") != task or ss.get("sweep_with") not in options:
        ss["_sweep_task"] = task
        ss["sweep_with"] = compare_default(fits, task).path.stem if fits else NO_PARTNER
    return st.selectbox("Second model", options, key="sweep_with",
                        format_func=lambda s: "none (this model alone)" if s == NO_PARTNER else s,
                        help="The same attack, target and seed at every budget on a second model.")


def second_subject(scene: Scene, entries: list[Entry], stem: str) -> tuple[str, Subject] | None:
    """The second model looking at the same image, or None (with a message) when it cannot be
    swept beside the model in use."""
    if stem == NO_PARTNER:
        return None
    entry = next(e for e in entries if e.path.stem == stem)
    try:
        other, sha = open_entry(entry)
    except (CheckpointError, OSError) as exc:
        st.error(f"Cannot open {entry.path.name}: {exc}")
        return None
    problem = incompatibility(scene.attacker.model, other)
    if problem:
        st.error(f"{Path(scene.choice.name).stem} and {stem} cannot be swept together: {problem}. "
                 "The sweep runs on the model in use alone.")
        return None
    key = ModelChoice(other, sha, entry.path.name, stem).key
    return stem, replace(scene.attacker, model=other, model_key=key, glances=other.glances_for(scene.attacker.glances))


def sweep_key(s: Subject, cfg: AttackConfig, seed: int, budgets: tuple[float, ...]) -> str:
    """What one model's sweep depends on: the model, image, label, box, attack and budgets."""
    return digest(s.model_key, s.image_key, s.label, s.box, attack_settings(cfg, seed, s.glances), list(budgets))


def attack_for(sidebar: AttackConfig, budgets: tuple[float, ...]) -> AttackConfig:
    """The sidebar's attack with its epsilon swept: an L2 sidebar attack becomes L-inf with the
    protocol's step size (the budgets are /255 L-inf balls)."""
    step = sidebar.step_size if sidebar.norm == "linf" else None
    return replace(sidebar, norm="linf", eps=max(budgets) / 255, step_size=step)


def summary(s: StrengthSweep) -> str:
    """Where one model gives way, in words."""
    reached = [b for b, ok in zip(s.budgets_255, s.success) if ok]
    held = (f"the attack first reaches its goal at {reached[0]:g}/255" if reached
            else f"the attack never reaches its goal up to {s.budgets_255[-1]:g}/255")
    if not s.has_attention:
        return f"{s.model_name}: {held} (no attention: pooling)."
    if s.mass is None:
        return f"{s.model_name}: {held}."
    return (f"{s.model_name}: {held}; attention in the box {s.mass[0]:.2f} at {s.budgets_255[0]:g}/255, "
            f"{s.mass[-1]:.2f} at {s.budgets_255[-1]:g}/255.")


def draw(scene: Scene, sweeps: list[StrengthSweep], cfg: AttackConfig) -> None:
    names, box = scene.class_names, scene.attacker.box
    size = scene.attacker.image.shape[0] * scene.attacker.image.shape[1]
    share = None if box is None else (box.x1 - box.x0) * (box.y1 - box.y0) / size
    figure = sweep_figure(sweeps, names, share, f"The attack at each budget ({describe(cfg).split(', ', 1)[1]})")
    st.plotly_chart(figure, key="sweep_chart")
    strip = sweep_strip(sweeps, names, box, scene.display)
    st.image(strip, caption="The adversarial image at each budget with the last glance's attention; "
                            "* the attack reached its goal")
    notes = [summary(s) for s in sweeps]
    for note in notes:
        st.caption(note)
    if box is None:
        st.caption("No box on this image: mark the object's box in the sidebar to see the attention mass in it.")
    stem = f"sweep_{'_'.join(s.model_name for s in sweeps)}"
    c1, c2, c3 = st.columns(3)
    c1.download_button("PNG", lambda: to_png(strip), f"{stem}.png", MIME["png"], key="sweep_png", on_click="ignore")
    c2.download_button("CSV", sweep_csv(sweeps, names), f"{stem}.csv", "text/csv", key="sweep_csv", on_click="ignore")
    c3.download_button("HTML", lambda: to_html([figure], "S3TA Lab: strength sweep", notes), f"{stem}.html",
                       MIME["html"], key="sweep_html", on_click="ignore")


def render(scene: Scene) -> None:
    budgets = choose_budgets()
    entries = catalog()[0]
    pick = choose_partner(scene.choice, entries)
    if budgets is None:
        return
    cfg = attack_for(scene.cfg, budgets)
    subjects = [(Path(scene.choice.name).stem, scene.attacker)]
    second = second_subject(scene, entries, pick)
    if second is not None:
        subjects.append(second)
    attacker, seed = scene.attacker, scene.seed
    target = sweep_target(cfg, attacker.image, attacker.label, attacker.model.config.num_classes, seed)
    same = f"the same target ({scene.class_names[target]}) and seed" if cfg.targeted else "the same seed"
    step = "" if cfg.step_size is not None else ", with the protocol's step max(1/255, eps/steps) at each budget"
    st.caption(f"Attack used here: {describe(cfg).split(', ', 1)[1]} (the sidebar's, its epsilon swept"
               + (" and made L-inf" if scene.cfg.norm != "linf" else "") + f"{step}): {same} "
               f"at every budget and on every model, each crafted and read at the sidebar's attack glances "
               f"({attacker.glances}; a model without glances reads once).")
    keys = [sweep_key(s, cfg, seed, budgets) for _, s in subjects]
    job = digest(keys)
    controls = st.container()
    found = [lab().kept("sweep", k) for k in keys]
    done = [r for r in found if r is not None]
    if done:
        draw(scene, done, cfg)
    missing = [i for i, r in enumerate(found) if r is None]
    if not missing:
        job_done(job)
        return
    with controls:
        rest = " and ".join(subjects[i][0] for i in missing)
        running = run_or_stop(job, f"Run the sweep on {rest} ({len(budgets)} budgets in one batch, "
                                   f"PGD-{cfg.steps})", "sweep",
                              help="Each model's sweep is shown as soon as it is done; Stop keeps those.")
        if not running:
            if done:
                st.caption(f"Shown: what is done. {rest} not swept yet.")
            return
        i = missing[0]
        name, s = subjects[i]

        def work(progress):
            return lab().kept("sweep", keys[i], lambda: strength_sweep(
                s.model, name, s.image, s.label, cfg, budgets, s.glances, seed, s.box, progress))
        what = f"Sweeping {name} ({len(subjects) - len(missing) + 1} of {len(subjects)})"
        if guarded(what, work) is None:
            job_done(job)  # the message stays; the button starts it again
            return
    st.rerun()  # draw it, then the next model


if __name__ == "__main__":
    render(current())
