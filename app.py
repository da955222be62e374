"""S3TA Lab: where a sequential attention classifier looks, glance by glance, and how an
adversarial attack pulls its attention away.

    streamlit run app.py

UI only: computation lives in ``viz/lab.py`` (cached, shared by sessions), drawing in ``viz/``.
"""

from __future__ import annotations

import hashlib
import os
import re
import time
from dataclasses import dataclass
from typing import Callable

import numpy as np
import streamlit as st
import torch

import model.inference_form as inference
from model.attacks import MAX_RESTARTS, AttackConfig
from model.checkpoint import CheckpointError, file_sha256
from viz.catalog import (
    MAX_CHECKPOINT_BYTES,
    Entry,
    describe,
    list_checkpoints,
    load_uploaded,
    open_checkpoint,
)
from viz.figures import drift_figure, glance_figure, probability_figure
from viz.files import FORMATS, MIME, to_png_strip
from viz.frames import (
    COLORMAPS,
    Display,
    amplified_perturbation,
    attribution_image,
    auto_zoom,
    draw_box,
    enlarge,
    glance_frames,
    to_uint8,
)
from viz.images import (
    FIT_MODES,
    MAX_FILE_BYTES,
    ImageError,
    Sample,
    domain_warnings,
    load_samples,
    prepare_image,
)
from viz.lab import BusyError, Lab, Subject
from viz.runs import perturbation_norms, pull_readout

MAX_GLANCES = 32
MAX_EPS_255 = 32
MAX_STEPS = 200
UPLOAD_TYPES = ["png", "jpg", "jpeg", "webp", "gif", "bmp", "tif", "tiff"]
SECTIONS = ["Probabilities", "Attention pull", "Perturbation", "Attack drift", "Attributions", "Export",
            "Model", "Gallery"]
TARGETS = {"random wrong class": "random", "chosen class": "class", "untargeted": "untargeted"}


# ---------------------------------------------------------------- shared, once per process
def device() -> str:
    return "cuda" if torch.cuda.is_available() else "cpu"


def use_inference_form() -> bool:
    """Attacks run on the checkpoints' inference forms unless ``S3TA_INFERENCE_FORM=0``."""
    return os.environ.get("S3TA_INFERENCE_FORM", "1") != "0"


@st.cache_resource(show_spinner="Loading the model…", max_entries=8)
def shipped_model(path: str, mtime: float, fast: bool) -> tuple[torch.nn.Module, str]:
    """A checkpoint's inference form (what attacks run on) with its sha256; one copy per
    process, shared read-only."""
    return open_checkpoint(path, device(), fast), file_sha256(path)


@st.cache_resource(show_spinner="Loading the uploaded checkpoint…", max_entries=4)
def uploaded_model(sha256: str, fast: bool, _data: bytes) -> torch.nn.Module:
    return load_uploaded(_data, device(), fast)


@st.cache_resource
def lab() -> Lab:
    """Limits from the environment: concurrent attacks, and the memory of cached results."""
    return Lab(max_attacks=int(os.environ.get("S3TA_MAX_ATTACKS", "2")),
               max_bytes=int(os.environ.get("S3TA_CACHE_MB", "512")) * 2**20)


@st.cache_resource
def samples() -> list[Sample]:
    return load_samples()


@st.cache_resource
def thumbnails() -> list[bytes]:
    """The gallery drawn and PNG-encoded once: each canvas at 2x with its item box."""
    return [to_png_strip(draw_box(enlarge(to_uint8(s.image), 2), tuple(2 * v for v in s.box), thickness=2)[None])
            for s in samples()]


@st.cache_data(ttl=30, show_spinner=False)
def catalog() -> tuple[list[Entry], list[str]]:
    return list_checkpoints()


def progress_bar(text: str, interval: float = 0.1) -> tuple[st.delta_generator.DeltaGenerator, Callable[[float], None]]:
    """A progress bar and its updater, which redraws at most every ``interval`` seconds (a
    PGD-100 would otherwise send a hundred deltas to the browser) and always at the end."""
    bar = st.progress(0.0, text=f"{text}…")
    last = [0.0]

    def update(fraction: float) -> None:
        now = time.perf_counter()
        if fraction >= 1.0 or now - last[0] >= interval:
            last[0] = now
            bar.progress(min(fraction, 1.0), text=f"{text}… {fraction:.0%}")
    return bar, update


# ---------------------------------------------------------------- sidebar
@dataclass(frozen=True)
class ModelChoice:
    model: torch.nn.Module
    sha256: str  # of the checkpoint file
    name: str

    @property
    def key(self) -> str:
        """What results computed by this model depend on: the file, and whether it runs as its
        inference form (equal within 1e-5, but not the same numbers)."""
        return self.sha256 + ("" if inference.source_of(self.model) is None else ":inference-form")


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
            model, sha = shipped_model(str(entry.path), entry.path.stat().st_mtime, use_inference_form())
        except (CheckpointError, OSError) as exc:
            st.error(f"Cannot open {entry.path.name}: {exc}")
            return None
        return ModelChoice(model, sha, entry.path.name)
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
        return ModelChoice(uploaded_model(sha, use_inference_form(), data), sha, up.name)
    except CheckpointError as exc:
        st.error(f"This checkpoint cannot be used: {exc}")
        return None


@dataclass(frozen=True)
class ImageChoice:
    image: np.ndarray
    key: str
    name: str
    label: int | None
    box: tuple[int, int, int, int] | None
    notes: tuple[str, ...]


def choose_image(size: int, class_names: list[str]) -> ImageChoice | None:
    st.sidebar.header("Image")
    source = st.sidebar.radio("Source", ["Gallery", "Upload"], horizontal=True, key="source")
    if source == "Gallery":
        gallery = samples()
        names = [f"{s.class_name} ({s.name})" for s in gallery]
        sample = gallery[names.index(st.sidebar.selectbox("Sample", names, key="sample"))]
        if sample.image.shape[:2] != (size, size):
            st.warning(f"The gallery holds {sample.image.shape[0]} px canvases of the default task; "
                       f"this model takes {size} px. Upload an image instead.")
            return None
        label = sample.label if class_names[sample.label] == sample.class_name else None
        return ImageChoice(sample.image, f"sample:{sample.name}", sample.name, label, sample.box, ())
    up = st.sidebar.file_uploader("Image file", type=UPLOAD_TYPES, key="image_upload",
                                  max_upload_size=MAX_FILE_BYTES // 2**20)
    fit = st.sidebar.selectbox("Fit to the model's square input", FIT_MODES, key="fit")
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
            box = (xs[0], ys[0], xs[1], ys[1])
        else:
            st.sidebar.warning("The box is empty; widen it.")
    key = f"upload:{hashlib.sha256(data).hexdigest()}:{fit}"
    return ImageChoice(prepared.image, key, up.name, None, box, tuple(prepared.notes))


def choose_attack(class_names: list[str]) -> tuple[AttackConfig | None, int, st.delta_generator.DeltaGenerator]:
    st.sidebar.header("Attack (PGD)")
    norm = st.sidebar.radio("Norm", ["L-inf", "L2"], horizontal=True, key="norm")
    if norm == "L-inf":
        eps_255 = st.sidebar.slider("Epsilon (/255)", 0, MAX_EPS_255, 32, key="eps",
                                    help="Largest change of any pixel value, in 1/255 units.")
        eps = eps_255 / 255
    else:
        eps = st.sidebar.slider("Epsilon (L2 norm)", 0.0, 10.0, 2.0, 0.25, key="eps_l2",
                                help="Largest L2 norm of the perturbation, pixels in [0, 1].")
    steps = st.sidebar.slider("Steps", 1, MAX_STEPS, 20, key="steps")
    target = TARGETS[st.sidebar.selectbox("Target", list(TARGETS), key="target")]
    target_class = None
    if target == "class":
        target_class = class_names.index(st.sidebar.selectbox("Target class", class_names, key="target_class"))
    restarts = st.sidebar.slider("Restarts", 1, min(MAX_RESTARTS, 10), 1, key="restarts")
    seed = int(st.sidebar.number_input("Seed", 0, 2**31 - 1, 0, key="seed"))
    early = st.sidebar.checkbox("Stop once it succeeds", value=True, key="early_stop")
    slot = st.sidebar.container()  # the Run button goes here once the page knows the image
    try:
        return AttackConfig(norm="linf" if norm == "L-inf" else "l2", eps=eps, steps=steps, target=target,
                            target_class=target_class, restarts=restarts, early_stop=early), seed, slot
    except ValueError as exc:
        slot.error(str(exc))
        return None, seed, slot


def choose_display(heads: int, image_size: int) -> Display:
    st.sidebar.header("Display")
    head = st.sidebar.radio("Heads", ["mean"] + [str(i) for i in range(heads)], horizontal=True, key="head")
    cmap = st.sidebar.selectbox("Colour map", list(COLORMAPS), key="cmap")
    alpha = st.sidebar.slider("Heatmap opacity", 0.0, 1.0, 0.6, 0.05, key="alpha")
    return Display(None if head == "mean" else int(head), cmap, alpha, auto_zoom(image_size))


# ---------------------------------------------------------------- page sections
def top5(pred, class_names: list[str], title: str) -> None:
    st.markdown(f"**{title}: {class_names[pred.label]}**")
    for cls, p in pred.top(5):
        st.progress(float(p), text=f"{class_names[cls]}: {p:.1%}")


def pull_section(subject: Subject, clean, run, display: Display) -> None:
    size = subject.image.shape[:2]
    r = pull_readout(clean, run, size, subject.box, display.head)
    n = len(r["js"])
    rows = {"glance": list(range(1, n + 1)), "JS divergence (nats)": np.round(r["js"], 4),
            "centre-of-mass shift (px)": np.round(r["com_shift"], 2)}
    if "mass_clean" in r:
        rows["mass in box, clean"] = np.round(r["mass_clean"], 3)
        rows["mass in box, adversarial"] = np.round(r["mass_adv"], 3)
        st.metric("Attention mass in the box, last glance", f"{r['mass_adv'][-1]:.0%}",
                  delta=f"{(r['mass_adv'][-1] - r['mass_clean'][-1]) * 100:+.1f} points vs clean")
    else:
        st.caption("No object box: mark one in the sidebar to measure attention mass on the object.")
    st.dataframe(rows, hide_index=True)


def probabilities_section(clean, run, label: int, class_names: list[str]) -> None:
    curves = {"clean": clean.step_probs} | ({"adversarial": run.prediction.step_probs} if run else {})
    shown = sorted({clean.label, label} | ({run.prediction.label, run.target} if run else set()))
    st.caption("Class probabilities after each glance (solid: clean, dashed: adversarial).")
    st.plotly_chart(probability_figure(curves, class_names, shown), key="probs_chart")


def perturbation_section(image: np.ndarray, run, display: Display) -> None:
    picture, gain = amplified_perturbation(image, run.image, display.zoom)
    norms = perturbation_norms(image, run.image)
    c1, c2 = st.columns([1, 2])
    c1.image(picture, caption=f"perturbation × {gain:.0f} (grey = 0)", width=288)
    c2.metric("L-inf", f"{norms['linf_255']:.1f} / 255")
    c2.metric("L2", f"{norms['l2']:.3f}")
    c2.metric("pixel values changed", f"{norms['changed']:.0%}")
    c2.caption(f"Attack norm: {run.config.norm}. The perturbation is scaled so its largest entry reaches "
               "black or white.")


def attribution_section(subject: Subject, clean, run, display: Display) -> None:
    try:
        with st.spinner("Computing Saliency and Integrated Gradients…"):
            attrs = lab().attributions(subject, run)
    except (RuntimeError, MemoryError) as exc:  # BusyError included
        st.warning(f"Attributions are not available right now: {exc}")
        return
    runs = [("clean", subject.image, clean)] + ([("adversarial", run.image, run.prediction)] if run else [])
    names = subject.class_names
    for name, img, pred in runs:
        st.markdown(f"**{name}** (for its predicted class, {names[pred.label]})")
        cols = st.columns(3)
        mean_attention = pred.attention.mean(axis=0, keepdims=True)  # over glances
        cols[0].image(glance_frames(img, mean_attention, display.head, display.zoom, display.cmap, display.alpha,
                                    subject.box, scanpath=False)[0],
                      caption="attention (mean over glances)", width=240)
        cols[1].image(attribution_image(attrs[f"saliency/{name}"], img, display.zoom, display.cmap),
                      caption="captum Saliency |∂logit/∂x|", width=240)
        cols[2].image(attribution_image(attrs[f"integrated_gradients/{name}"], img, display.zoom, display.cmap),
                      caption="captum Integrated Gradients (black baseline)", width=240)


def export_section(subject: Subject, run, display: Display, choice: ModelChoice) -> None:
    key = (subject.key, None if run is None else Lab.attack_key(subject, run.config, run.seed), display)
    prepared = st.session_state.get("exports")
    if st.button("Prepare exports", key="prepare_exports",
                 help="GIF, WebM, PNG strip, standalone HTML and NPZ of what is shown"):
        with st.spinner("Rendering exports…"):
            files = lab().exports(subject, run, display, {"name": choice.name, "sha256": choice.sha256})
        st.session_state["exports"] = prepared = {"key": key, "files": files}
    if not prepared or prepared["key"] != key:
        st.caption("Exports follow the current image, attack and display settings.")
        return
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", os.path.splitext(os.path.basename(subject.image_name))[0])[:80]
    stem = (stem or "image") + ("_adv" if run else "")
    cols = st.columns(len(FORMATS))
    for col, fmt in zip(cols, FORMATS):
        data = prepared["files"][fmt]
        col.download_button(f"{fmt.upper()} ({len(data) / 1024:.0f} KB)", data, f"{stem}.{fmt}", MIME[fmt],
                            key=f"download_{fmt}", on_click="ignore")


def gallery_section() -> None:
    st.caption("The shipped test canvases of the default task, the item's box in green; pick one in "
               "the sidebar.")
    cols = st.columns(5)
    for i, (s, thumb) in enumerate(zip(samples(), thumbnails())):
        cols[i % 5].image(thumb, caption=f"{s.class_name} ({s.name})", width=150)


def model_section(choice: ModelChoice) -> None:
    meta = choice.model.metadata
    st.json(describe(meta), expanded=False)
    with st.expander("Full metadata"):
        st.json({k: v for k, v in meta.items() if k != "history"}, expanded=False)


# ---------------------------------------------------------------- page
def main() -> None:
    st.set_page_config(page_title="S3TA Lab", layout="wide")
    st.title("S3TA Lab")
    choice = choose_model()
    if choice is None:
        return
    model = choice.model
    class_names = list(model.metadata["class_names"])
    config = model.config
    st.caption(f"Model **{choice.name}** · {model.metadata.get('task', 'unknown task')} · "
               f"{config.arch} · {len(class_names)} classes · device: **{device()}** · "
               + ("inference form (BatchNorm folded, channels last: about 0.6 of the eager cost per attack "
                  "step, no compile wait)" if use_inference_form() else "eager model (S3TA_INFERENCE_FORM=0)"))
    picked = choose_image(config.image_size, class_names)
    glances = st.sidebar.slider("Glances", 1, MAX_GLANCES, min(model.default_glances, MAX_GLANCES), key="glances")
    cfg, seed, run_slot = choose_attack(class_names)
    display = choose_display(model.heads, config.image_size)
    if picked is None:
        return
    for note in picked.notes:
        st.caption(note)
    for warning in domain_warnings(picked.image, model.metadata.get("input_stats")):
        st.warning(f"This image is far from the training data: {warning}. Predictions may mean little.")

    def subject_for(label: int) -> Subject:
        return Subject(model, choice.key, picked.image, picked.key, picked.name, label, picked.box, glances)

    clean = lab().clean(subject_for(-1))  # the clean view does not depend on the label
    label = picked.label if picked.label is not None else clean.label
    subject = subject_for(label)
    if picked.label is None:
        st.caption(f"No known label: the attack treats the clean prediction "
                   f"({class_names[label]}) as the class to move away from.")

    run = None
    if cfg is not None:
        run = lab().cached_attack(subject, cfg, seed)
        if cfg.target == "class" and cfg.target_class == label:
            run_slot.warning("The chosen target class is the class being attacked; choose another one.")
        elif run_slot.button("Run attack", type="primary", key="run_attack", disabled=run is not None,
                             help="Results are kept: moving back to settings already run shows them at once."):
            bar, progress = progress_bar("Attacking")
            try:
                run = lab().attack(subject, cfg, seed, progress=progress)
            except BusyError as exc:
                st.warning(str(exc))
            except ValueError as exc:
                st.error(f"The attack could not run: {exc}")
            except (RuntimeError, MemoryError) as exc:  # e.g. out of memory on a large model
                st.error(f"The attack failed: {exc}. Try fewer steps, restarts or glances.")
            else:
                st.rerun()  # redraw the sidebar with the result cached (the button greys out)
            finally:
                bar.empty()

    left, right = st.columns([3, 1])
    with left:
        st.plotly_chart(glance_figure(subject.image, clean, run, class_names, subject.box, display),
                        key="glances_chart")
    with right:
        top5(clean, class_names, "Clean")
        if run is not None:
            top5(run.prediction, class_names, "Adversarial")
            outcome = "reached" if run.success else "did not reach"
            goal = "a wrong class" if run.config.target == "untargeted" else class_names[run.target]
            st.caption(f"The attack {outcome} {goal} in {run.seconds:.2f} s.")
        else:
            st.caption("Press **Run attack** in the sidebar to attack this image.")

    tabs = st.tabs(SECTIONS, key="section", on_change="rerun")  # only the open tab runs
    sections = {
        "Probabilities": lambda: probabilities_section(clean, run, label, class_names),
        "Attention pull": lambda: pull_section(subject, clean, run, display),
        "Perturbation": lambda: perturbation_section(subject.image, run, display),
        "Attack drift": lambda: st.plotly_chart(drift_figure(run, class_names, subject.box, display),
                                                key="drift_chart"),
        "Attributions": lambda: attribution_section(subject, clean, run, display),
        "Export": lambda: export_section(subject, run, display, choice),
        "Model": lambda: model_section(choice),
        "Gallery": gallery_section}
    needs_attack = {"Attention pull", "Perturbation", "Attack drift"}
    for name, tab in zip(SECTIONS, tabs):
        if not tab.open:
            continue
        with tab:
            if name in needs_attack and run is None:
                st.caption("Run an attack (sidebar) to see this.")
            else:
                sections[name]()


if __name__ == "__main__":
    main()
