"""The sidebar: the model, the image, the attack and the display, each chosen by widgets that
only return what was picked, as typed records."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import numpy as np
import streamlit as st
from torch import nn

import model.inference_form as inference
from compute.catalog import MAX_CHECKPOINT_BYTES
from compute.images import FIT_MODES, MAX_FILE_BYTES, ImageError, own_pixels, prepare_image
from compute.runs import step_size_from_255
from model.attacks import AttackConfig
from model.checkpoint import CheckpointError
from model.records import Box
from viz.frames import COLORMAPS, Display, auto_zoom

from .resources import catalog, gallery, open_entry, open_upload
from .state import (
    MAX_EPS_255,
    MAX_GLANCES,
    MAX_RESTARTS_PAGE,
    MAX_STEPS,
    NORMS,
    STEP_SIZES,
    TARGETS,
    UPLOAD_TYPES,
    sample_key,
    upload_key,
)


@dataclass(frozen=True)
class ModelChoice:
    model: nn.Module
    sha256: str  # of the checkpoint file
    name: str
    stem: str | None = None  # the catalogue name a link can carry (None for an upload)

    @property
    def key(self) -> str:
        """What results computed by this model depend on: the file, and whether it runs as its
        inference form (equal within 1e-5, but not the same numbers)."""
        return self.sha256 + ("" if inference.source_of(self.model) is None else ":inference-form")

    @property
    def class_names(self) -> list[str]:
        return list(self.model.class_names)


@dataclass(frozen=True)
class ImageChoice:
    image: np.ndarray
    key: str
    name: str
    sha256: str  # of the image file's bytes
    label: int | None  # the true class when known (a gallery sample of the model's own classes)
    box: Box | None
    notes: tuple[str, ...]
    sample: str | None = None  # the gallery file a link can carry (None for an upload)
    content: Box | None = None  # the upload's own pixels (not the letterbox)

    @property
    def own_pixels(self) -> np.ndarray:
        return own_pixels(self.image, self.content)


@dataclass(frozen=True)
class AttackChoice:
    config: AttackConfig | None  # None when the settings do not make an attack (the page says why)
    seed: int
    glances: int  # the count the attack is crafted against (the attacker's)
    slot: Any  # where the Run button goes once the page knows the image


def choose_model() -> ModelChoice | None:
    st.sidebar.header("Model")
    entries, problems = catalog()
    labels = [e.label for e in entries] + ["Upload a checkpoint…"]
    pick = st.sidebar.selectbox("Checkpoint", labels, key="model_choice")
    for p in problems:
        st.sidebar.caption(f"skipped: {p}")
    if pick != labels[-1]:
        entry = entries[labels.index(pick)]
        try:
            model, sha = open_entry(entry)
        except (CheckpointError, OSError) as exc:
            st.error(f"Cannot open {entry.path.name}: {exc}")
            return None
        return ModelChoice(model, sha, entry.path.name, entry.path.stem)
    up = st.sidebar.file_uploader("safetensors checkpoint", type=["safetensors"], key="ckpt_upload",
                                  max_upload_size=MAX_CHECKPOINT_BYTES // 2**20,
                                  help=f"Only safetensors files written by S3TA Lab; at most "
                                       f"{MAX_CHECKPOINT_BYTES // 2**20} MB. Pickles are refused.")
    if up is None:
        st.info("Upload a checkpoint in the sidebar, or pick a listed one.")
        return None
    data = up.getvalue()
    sha = hashlib.sha256(data).hexdigest()
    try:
        return ModelChoice(open_upload(sha, data), sha, up.name)
    except CheckpointError as exc:
        st.error(f"This checkpoint cannot be used: {exc}")
        return None


def choose_image(model: nn.Module) -> ImageChoice | None:
    st.sidebar.header("Image")
    size, class_names, task = model.config.image_size, list(model.class_names), model.info.task
    source = st.sidebar.radio("Source", ["Gallery", "Upload"], horizontal=True, key="source")
    if source == "Gallery":
        shown, canvases = gallery(task)
        names = [f"{s.class_name} ({s.name})" for s in canvases]
        sample = canvases[names.index(st.sidebar.selectbox("Sample", names, key="sample"))]
        if sample.image.shape[:2] != (size, size):
            st.warning(f"The gallery holds {sample.image.shape[0]} px canvases of {shown}; "
                       f"this model takes {size} px. Upload an image instead.")
            return None
        if shown != task:
            st.warning(f"No gallery of {task} is shipped; these are canvases of {shown}, so this model's "
                       f"answers here are outside its task.")
        return ImageChoice(sample.image, sample_key(sample.name), sample.name, sample.sha256,
                           sample.label_for(class_names), sample.box, (), sample.name)
    up = st.sidebar.file_uploader("Image file", type=UPLOAD_TYPES, key="image_upload",
                                  max_upload_size=MAX_FILE_BYTES // 2**20)
    preferred = model.info.input_fit
    fit = st.sidebar.selectbox("Fit to the model's square input", FIT_MODES, index=FIT_MODES.index(preferred),
                               key=f"fit:{preferred}",  # a model that prefers another fit starts from it
                               help="The checkpoint's preferred fit first: letterbox for the task's dark "
                                    "canvases, a centre crop for photo models trained on crops.")
    if up is None:
        st.info("Upload an image in the sidebar (PNG, JPEG, WebP, GIF, BMP, TIFF), or pick one "
                "from the gallery.")
        return None
    data = up.getvalue()
    try:
        prepared = prepare_image(data, size, fit)
    except ImageError as exc:
        st.error(f"{up.name}: {exc}")
        return None
    box = None
    if st.sidebar.checkbox("Mark the object's box", value=False, key="use_box",
                           help="The attention-pull readout then measures attention mass inside it."):
        x0, y0, x1, y1 = prepared.content
        xs = st.sidebar.slider("Box x range (px)", 0, size, (x0, x1), key="box_x")
        ys = st.sidebar.slider("Box y range (px)", 0, size, (y0, y1), key="box_y")
        if xs[1] > xs[0] and ys[1] > ys[0]:
            box = Box(xs[0], ys[0], xs[1], ys[1])
        else:
            st.sidebar.warning("The box is empty; widen it.")
    return ImageChoice(prepared.image, upload_key(data, fit), up.name, hashlib.sha256(data).hexdigest(), None, box,
                       tuple(prepared.notes), content=prepared.content)


def choose_glances(model: nn.Module) -> int:
    st.session_state.setdefault("glances", min(model.default_glances, MAX_GLANCES))
    return st.sidebar.slider("Glances", 1, MAX_GLANCES, key="glances",
                             help="How long the model looks (the defender). An attack keeps the count it "
                                  "was crafted against; moving this reads its image at another count.")


def choose_attack(class_names: list[str], default_glances: int) -> AttackChoice:
    st.sidebar.header("Attack (PGD)")
    st.session_state.setdefault("attack_glances", default_glances)
    norm = st.sidebar.radio("Norm", list(NORMS), horizontal=True, key="norm")
    if norm == "L-inf":
        eps = st.sidebar.slider("Epsilon (/255)", 0, MAX_EPS_255, key="eps",
                                help="Largest change of any pixel value, in 1/255 units.") / 255
    else:
        eps = st.sidebar.slider("Epsilon (L2 norm)", 0.0, 10.0, step=0.25, key="eps_l2",
                                help="Largest L2 norm of the perturbation, pixels in [0, 1].")
    steps = st.sidebar.slider("Steps", 1, MAX_STEPS, key="steps")
    step = st.sidebar.select_slider("Step size (/255)", STEP_SIZES, key="step_size", disabled=norm != "L-inf",
                                    help="How far each PGD step moves every pixel (L-inf). 'auto' is the "
                                         "paper's protocol, max(1/255, eps/steps); L2 attacks always use it.")
    step_size = step_size_from_255(step) if norm == "L-inf" else None
    glances = st.sidebar.slider("Attack aimed at (glances)", 1, MAX_GLANCES, key="attack_glances",
                                help="The glance count the attack is crafted against. Moving the page's "
                                     "Glances slider reads the same adversarial image at another count.")
    target = TARGETS[st.sidebar.selectbox("Target", list(TARGETS), key="target")]
    target_class = None
    if target == "class":
        target_class = class_names.index(st.sidebar.selectbox("Target class", class_names, key="target_class"))
    restarts = st.sidebar.slider("Restarts", 1, MAX_RESTARTS_PAGE, key="restarts")
    seed = int(st.sidebar.number_input("Seed", 0, 2**31 - 1, key="seed"))
    early = st.sidebar.checkbox("Stop once it succeeds", key="early_stop")
    slot = st.sidebar.container()
    try:
        cfg = AttackConfig(norm=NORMS[norm], eps=eps, steps=steps, step_size=step_size, target=target,
                           target_class=target_class, restarts=restarts, early_stop=early)
    except ValueError as exc:
        slot.error(str(exc))
        cfg = None
    return AttackChoice(cfg, seed, glances, slot)


def choose_display(heads: int, image_size: int, has_attention: bool = True) -> Display:
    st.sidebar.header("Display")
    head = st.sidebar.radio("Heads", ["mean"] + [str(i) for i in range(heads)], horizontal=True, key="head",
                            disabled=not has_attention,
                            help=None if has_attention else "This model has no attention heads (global average "
                                                            "pooling): its map is the even spread pooling applies.")
    cmap = st.sidebar.selectbox("Colour map", list(COLORMAPS), key="cmap")
    alpha = st.sidebar.slider("Heatmap opacity", 0.0, 1.0, step=0.05, key="alpha")
    return Display(None if head == "mean" else int(head), cmap, alpha, auto_zoom(image_size))
