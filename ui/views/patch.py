"""An adversarial patch: a square of free pixels optimised towards a target class. Does the
attention jump to the patch, or stay on the item while the answer changes?"""

from __future__ import annotations

import streamlit as st

from compute.cache import digest
from compute.patch import patch_csv, patch_readout
from model.patch import PatchConfig
from ui.resources import lab
from ui.scene import Scene, current
from ui.widgets import guarded
from viz.files import to_png
from viz.patch import patch_figure, patch_panels

MAX_PATCH_STEPS_PAGE = 1000
PLACES = ("searched", "chosen")


def _in_range(key: str, lo: int, hi: int, default: int, what: str) -> None:
    """A value a link (or an earlier image) left outside what this image allows goes back to the
    default, with a message saying what is allowed."""
    if key not in st.session_state:
        st.session_state[key] = default
        return
    value = st.session_state[key]
    if not isinstance(value, int) or not lo <= value <= hi:
        st.warning(f"{what} {value!r} does not fit this image: it must be from {lo} to {hi}; using {default}.")
        st.session_state[key] = default


def settings(height: int, width: int) -> PatchConfig:
    """The patch's size, place and steps, chosen on the view (and kept in the link)."""
    side = min(height, width)
    largest = max(1, side // 2)
    _in_range("patch_size", 2, largest, max(2, side // 6), "The patch size")
    _in_range("patch_steps", 10, MAX_PATCH_STEPS_PAGE, 200, "The number of steps")
    cols = st.columns([2, 2, 2])
    size = cols[0].slider("Patch size (px)", 2, largest, key="patch_size",
                          help=f"At most half the image's side ({largest} px here).")
    steps = cols[1].number_input("Steps", 10, MAX_PATCH_STEPS_PAGE, step=10, key="patch_steps",
                                 help=f"Signed-gradient steps of 4/255 on the patch's pixels; at most "
                                      f"{MAX_PATCH_STEPS_PAGE} on this page.")
    place = cols[2].radio("Place", PLACES, key="patch_place", horizontal=True,
                          help="Searched: 20 steps at each of 16 places over the image, side by side, then the rest "
                               "at the best one.")
    at = None
    if place == "chosen":
        _in_range("patch_x", 0, width - size, 0, "The patch's left edge")
        _in_range("patch_y", 0, height - size, 0, "The patch's top edge")
        left, top = st.columns(2)
        at = (int(left.number_input("Left edge x0 (px)", 0, width - size, key="patch_x")),
              int(top.number_input("Top edge y0 (px)", 0, height - size, key="patch_y")))
    return PatchConfig(size=int(size), steps=int(steps), place=at, search_steps=min(20, int(steps)))


def render(scene: Scene) -> None:
    subject, names, model = scene.attacker, scene.class_names, scene.choice.model
    height, width = subject.image.shape[:2]
    cfg = settings(height, width)
    sidebar = scene.cfg
    target = sidebar.target_class if sidebar is not None and sidebar.target == "class" else None
    if target is not None and target == subject.label:
        st.warning("The sidebar's target class is the class being attacked; choose another one there.")
        return
    aim = "the sidebar's chosen class" if target is not None else "a random wrong class (from the image and seed)"
    st.caption(f"A {cfg.size} px patch, free pixels, {cfg.steps} steps towards {aim}, read at "
               f"{subject.glances} glance{'s' if subject.glances > 1 else ''} (the sidebar's attacker count).")
    run = lab().cached_patch(subject, cfg, scene.seed, target)
    if run is None or not run.finished:
        label = "Run the patch" if run is None else "Run the patch again from the start"
        if st.button(label, key="run_patch"):
            if guarded("Optimising the patch", lambda p: lab().patch(subject, cfg, scene.seed, target, p),
                       stop="stop_patch"):
                st.rerun()
            return
        if run is None:
            st.caption("Does the attention jump to the patch? The view shows where each glance looks before and "
                       "after, and how much of it lands on the patch and on the item.")
            return
        st.caption(f"Stopped after {run.steps} of {cfg.steps} steps: the patch as it was then.")
    has_attention = bool(model.has_attention)
    verdict = "reached" if run.success else "did not reach"
    st.markdown(f"The patch **{verdict}** {names[run.target]}: the model now reads "
                f"**{names[run.prediction.label]}** ({run.prediction.probs.max():.0%}), "
                f"was {names[run.clean.label]} ({run.clean.probs.max():.0%}).")
    sheet = patch_panels(subject.image, run, names, scene.display, subject.box, has_attention)
    st.image(sheet, caption="Last glance's attention; green: the item's box, magenta: the patch.")
    # a model without attention reads its shares off Saliency maps (two backward passes): kept, so
    # a display-only change does not recompute them
    key = digest(lab().patch_key(subject, cfg, scene.seed, target), run.steps)
    readout = lab().kept("patch-shares", key, lambda: patch_readout(model, run, subject.box, subject.image),
                         gated=False)
    st.plotly_chart(patch_figure(readout, has_attention), key="patch_chart")
    if not has_attention:
        st.caption("This model has no attention: the shares are of its Saliency map (|gradient| of the "
                   "predicted class), one value for the whole image, as the closest thing to where it looks.")
    elif subject.box is None:
        st.caption("This image has no item box: only the share on the patch is drawn.")
    stem = f"patch_{subject.image_name.rsplit('.', 1)[0]}"
    left, right = st.columns(2)
    left.download_button("PNG", to_png(sheet), f"{stem}.png", "image/png", key="patch_png", on_click="ignore")
    right.download_button("CSV", patch_csv(readout), f"{stem}.csv", "text/csv", key="patch_csv", on_click="ignore")


if __name__ == "__main__":
    render(current())
