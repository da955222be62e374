"""A guided tour for learners and teachers: the paper's three findings on the shipped models,
one step each, with a live example, what to look at, and the number measured behind it at this
project's scale (negative results included), ending in the views that go further."""

from __future__ import annotations

from dataclasses import replace

import streamlit as st

from compute.catalog import Entry
from compute.lab import Subject
from compute.runs import DEFAULT_ATTACK, pull_readout
from compute.studies import compare_setting, dataset_race, glance_setting, race_beside
from compute.tour import Measured, attention_helps, attention_pulled, clean_look, glances_race
from model.checkpoint import CheckpointError
from ui.resources import catalog, lab, open_entry, samples
from ui.scene import Scene, current
from ui.state import sample_key
from ui.views import VIEWS
from ui.widgets import guarded
from viz.figures import race_figure
from viz.frames import Display, compare_panels, glance_frames

STEPS = ("Where S3TA looks", "Finding 1: attention and robustness", "Finding 2: the race with the attacker",
         "Finding 3: the attack pulls attention away", "Go further")
PAIRS = {"default": ("s3ta_default", "baseline_default"), "cued": ("s3ta_cued", "baseline_cued")}
FURTHER = ("Glance grid", "Race", "Compare models", "Batch", "Adversarial patch", "Strength sweep", "Black-box attack",
           "Belief path", "Attack drift")


def _entry(stem: str) -> Entry | None:
    return next((e for e in catalog()[0] if e.path.stem == stem), None)


def _subject(entry: Entry) -> Subject | None:
    """The entry's model on its task's first gallery sample, at its own glance count."""
    try:
        model, sha = open_entry(entry)
    except (CheckpointError, OSError) as exc:
        st.error(f"Cannot open {entry.path.name}: {exc}")
        return None
    sample = samples(model.info.task)[0]
    label = sample.label_for(list(model.class_names))
    return Subject(model, f"{entry.path.name}:{sha}", sample.image, sample_key(sample.name), sample.name,
                   label if label is not None else 0, sample.box, model.default_glances)


def _say(measured: Measured | None, missing: str) -> None:
    if measured is None:
        st.caption(missing)
    elif measured.holds is None:
        st.info(f"Measured: {measured.text}")
    elif measured.holds:
        st.success(f"Measured, holds at this scale: {measured.text}")
    else:
        st.warning(f"Measured, not shown at this scale: {measured.text}")


def look(display: Display) -> None:
    st.markdown("Each glance, S3TA's controller asks a question (a query) and reads the image where its keys "
                "match: a soft map over positions. **Look at** where the bright cells fall relative to the green "
                "box around the item, and whether later glances move.")
    entry = _entry(PAIRS["default"][0])
    s = _subject(entry) if entry else None
    if s is None:
        return
    pred = lab().clean(s)
    frames = glance_frames(s.image, pred.attention, display, s.box)
    names = s.class_names
    said = [f"glance {i + 1}: {names[probs.argmax()]}" for i, probs in enumerate(pred.step_probs)]
    st.image(list(frames), caption=said, width=200)
    _say(clean_look(s.model.metadata, entry.path.stem), "This checkpoint stores no test evaluation.")


def robustness(display: Display) -> None:
    st.markdown("The same attack (settings, seed, target) on S3TA and on a ResNet with global average pooling, "
                "trained the same way. **Look at** which model still names the item, and where S3TA's attention "
                "sits on the adversarial image.")
    a, b = (_entry(stem) for stem in PAIRS["default"])
    sa, sb = (_subject(e) if e else None for e in (a, b))
    if sa is None or sb is None:
        return
    names = (a.path.stem, b.path.stem)
    _say(attention_helps(sa.model.metadata, sb.model.metadata, sa.glances, names),
         "These checkpoints store no comparable test-set race.")
    setting = compare_setting(dataset_race(sa.model.metadata), sa.glances, dataset_race(sb.model.metadata), names)
    eps = setting.eps_255 if setting else 16
    cfg = replace(DEFAULT_ATTACK, eps=eps / 255, steps=setting.steps if setting else 50)
    runs = [lab().cached_attack(s, cfg, 0) for s in (sa, sb)]
    if any(r is None for r in runs):
        if st.button(f"Run this example (PGD-{cfg.steps} at {eps:g}/255 on both models)", key="tour_compare"):
            if guarded("Attacking both models", lambda p: lab().compare(sa, sb, cfg, 0, p)):
                st.rerun()
        return
    rows = [(names[0], True, runs[0]), (names[1], False, runs[1])]
    sheet, notes = compare_panels(sa.image, rows, sa.class_names, sa.box, display)
    st.image(sheet, caption="adversarial image · amplified perturbation · attention, one row per model")
    for note in notes:
        st.caption(note)
    st.caption("With a stronger training recipe (PGD at the evaluation's budget) a same-recipe baseline kept up "
               "with S3TA in this project's ablation: see docs/findings.md, finding 1.")


def race() -> None:
    st.markdown("The paper: unrolling for more glances makes the attacker's job harder. The curves are test-set "
                "accuracy under attack against attack steps, one line per glance count, stored by each checkpoint's "
                "evaluation. **Look at** whether the lines separate, and by more than their noise.")
    for task, (stem, base_stem) in PAIRS.items():
        entry, base = _entry(stem), _entry(base_stem)
        if entry is None:
            continue
        rows = dataset_race(entry.metadata)
        measured = glances_race(entry.metadata, stem)
        _say(measured, f"{stem} stores no race.")
        setting = glance_setting(rows)
        if rows and setting:
            drawn = race_beside(rows, dataset_race(base.metadata) if base else None)
            st.plotly_chart(race_figure(drawn, setting.eps_255, setting.target), key=f"tour_race_{task}")
    st.caption("On the cued task the first glance must read a cue before the item can be named, so the jump from "
               "1 to 2 glances is the task's design rather than a race; the sentence above says what is left after it.")


def pull(display: Display) -> None:
    st.markdown("An attack towards a wrong class, and where the glances go on the adversarial image. **Look at** the "
                "attention leaving the green box, and at the amplified perturbation: does it draw the target class?")
    entry = _entry(PAIRS["default"][0])
    s = _subject(entry) if entry else None
    if s is None:
        return
    _say(attention_pulled(s.model.metadata, entry.path.stem), "This checkpoint stores no attention evaluation.")
    run = lab().cached_attack(s, DEFAULT_ATTACK, 0)
    if run is None:
        if st.button("Run this example (the page's default attack, 32/255 towards a random wrong class)",
                     key="tour_attack"):
            if guarded("Attacking", lambda p: lab().attack(s, DEFAULT_ATTACK, 0, p)):
                st.rerun()
        return
    sheet, notes = compare_panels(s.image, [(entry.path.stem, True, run)], s.class_names, s.box, display)
    st.image(sheet, caption="adversarial image · amplified perturbation · attention (mean over glances)")
    readout = pull_readout(lab().clean(s), run, s.image.shape[:2], s.box)
    if "mass_clean" in readout:
        st.caption(f"On this image, the last glance's attention on the item: {readout['mass_clean'][-1]:.2f} clean, "
                   f"{readout['mass_adv'][-1]:.2f} adversarial. {notes[0]}")
    st.caption("Whether the perturbation carries the target's structure is asked of an independent judge model in "
               "docs/findings.md (finding 3): at this scale it did not, for S3TA more than for the baseline.")


def further() -> None:
    st.markdown("Each view below works on the model and image chosen in the sidebar, on the gallery or an upload.")
    titles = {v.title: v for v in VIEWS}
    for title in FURTHER:
        if title in titles:
            st.page_link(titles[title].script, label=title)


def render(scene: Scene) -> None:
    ss = st.session_state
    if not isinstance(ss.get("tour_step"), int) or not 1 <= ss["tour_step"] <= len(STEPS):
        if "tour_step" in ss:
            st.warning(f"The tour has steps 1 to {len(STEPS)}; starting at 1.")
        ss["tour_step"] = 1
    step = ss["tour_step"]
    st.progress(step / len(STEPS), text=f"Step {step} of {len(STEPS)}: {STEPS[step - 1]}")
    display = Display(cmap=scene.display.cmap, alpha=scene.display.alpha)  # canvases, every head
    [look, robustness, race, pull, further][step - 1](*([display] if step in (1, 2, 4) else []))
    back, _, ahead = st.columns([1, 4, 1])
    if step > 1 and back.button("Previous", key="tour_previous"):
        ss["tour_step"] = step - 1
        st.rerun()
    if step < len(STEPS) and ahead.button("Next", key="tour_next", type="primary"):
        ss["tour_step"] = step + 1
        st.rerun()


if __name__ == "__main__":
    render(current())
