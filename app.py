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
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable

import numpy as np
import streamlit as st
import torch

import model.inference_form as inference
from model.attacks import MAX_RESTARTS, AttackConfig
from model.checkpoint import DEFAULT_CHECKPOINT, CheckpointError, file_sha256
from model.data import DEFAULT_TASK
from model.factory import ARCHITECTURES
from viz.catalog import (
    MAX_CHECKPOINT_BYTES,
    Entry,
    better_fits,
    compare_default,
    describe,
    list_checkpoints,
    load_uploaded,
    models_dir,
    open_checkpoint,
    race_baseline,
    task_of,
)
from viz.figures import (
    compare_figure,
    drift_figure,
    glance_figure,
    grid_figure,
    image_data_uri,
    image_race_figure,
    probability_figure,
    race_figure,
)
from viz.files import FORMATS, MIME, to_html, to_png, to_png_strip
from viz.frames import (
    COLORMAPS,
    Display,
    amplified_perturbation,
    attribution_image,
    auto_zoom,
    compare_panels,
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
    prepare_image,
    task_gallery,
)
from viz.lab import BusyError, Lab, Subject
from viz.links import Field, decode, encode
from viz.runs import DEFAULT_ATTACK, AttackRun, perturbation_norms, pull_readout, step_size_from_255
from viz.studies import GLANCE_COUNTS, MAX_BATCH, batch_csv, dataset_race, incompatibility, race_beside

MAX_GLANCES = 32
MAX_EPS_255 = 32
MAX_STEPS = 200
UPLOAD_TYPES = ["png", "jpg", "jpeg", "webp", "gif", "bmp", "tif", "tiff"]
SECTIONS = ["Probabilities", "Attention pull", "Perturbation", "Attack drift", "Compare models", "Glance grid",
            "Race", "Batch", "Attributions", "Export", "Model", "Gallery"]
TARGETS = {"random wrong class": "random", "chosen class": "class", "untargeted": "untargeted"}
NORMS = {"L-inf": "linf", "L2": "l2"}
MAX_RESTARTS_PAGE = min(MAX_RESTARTS, 10)
# L-inf step sizes in /255; "auto" is the paper's protocol, max(1/255, eps/steps) (L2 attacks always use it)
STEP_SIZES = ["auto", "0.5", "1", "2", "4", "8"]
DEFAULTS = {"eps": round(DEFAULT_ATTACK.eps * 255), "eps_l2": 2.0, "steps": DEFAULT_ATTACK.steps,
            "step_size": "auto" if DEFAULT_ATTACK.step_size is None else f"{DEFAULT_ATTACK.step_size * 255:g}",
            "restarts": 1, "seed": 0, "early_stop": DEFAULT_ATTACK.early_stop, "alpha": 0.6}


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
def gallery(task: str) -> tuple[str, list[Sample]]:
    """(the task shown, its samples): the model's task's own gallery, else the default task's."""
    return task_gallery(task)


def samples(task: str) -> list[Sample]:
    return gallery(task)[1]


@st.cache_resource
def thumbnails(task: str) -> list[bytes]:
    """The gallery drawn and PNG-encoded once: each canvas at 2x with its item box."""
    return [to_png_strip(draw_box(enlarge(to_uint8(s.image), 2), tuple(2 * v for v in s.box), thickness=2)[None])
            for s in samples(task)]


def catalog() -> tuple[list[Entry], list[str]]:
    """The listed checkpoints: the shipped ones and those in the models folder of now."""
    return _catalog(str(models_dir()))


@st.cache_data(ttl=30, show_spinner=False)
def _catalog(folder: str) -> tuple[list[Entry], list[str]]:
    return list_checkpoints([DEFAULT_CHECKPOINT.parent, Path(folder)])


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


# ---------------------------------------------------------------- shareable links
def heads_of(meta: dict[str, Any]) -> int:
    """Attention heads of a catalogued checkpoint, from its metadata (before loading it)."""
    config = meta.get("config", {})
    return int(config.get("heads", 1)) if ARCHITECTURES[config.get("arch", "s3ta")].has_attention else 1


def link_fields(stems: list[str], meta: dict[str, Any]) -> list[Field]:
    """What a link may carry besides the model, checked against the linked model's classes and heads."""
    gallery_names = [s.name for s in samples(task_of(meta))]
    return [Field("compare", "choice", choices=stems), Field("sample", "choice", choices=gallery_names),
            Field("glances", "int", 1, MAX_GLANCES), Field("attack_glances", "int", 1, MAX_GLANCES),
            Field("norm", "choice", choices=list(NORMS.values())), Field("eps", "float", 0, MAX_EPS_255),
            Field("steps", "int", 1, MAX_STEPS), Field("step_size", "choice", choices=STEP_SIZES),
            Field("target", "choice", choices=list(TARGETS.values())),
            Field("target_class", "choice", choices=list(meta["class_names"])),
            Field("restarts", "int", 1, MAX_RESTARTS_PAGE), Field("seed", "int", 0, 2**31 - 1),
            Field("early_stop", "bool"), Field("attack", "bool"),
            Field("head", "choice", choices=["mean"] + [str(i) for i in range(heads_of(meta))]),
            Field("cmap", "choice", choices=list(COLORMAPS)), Field("alpha", "float", 0, 1),
            Field("tab", "choice", choices=SECTIONS)]


def apply_link() -> list[str]:
    """Once per session, before any widget exists: the settings in the page's URL become the
    widgets' state. Returns a message for each value that was dropped."""
    if st.session_state.get("_link_read"):
        return []
    st.session_state["_link_read"] = True
    params = st.query_params.to_dict()
    if not params:
        return []
    entries, _ = catalog()
    stems = [e.path.stem for e in entries]
    found, problems = decode(params, [Field("model", "choice", choices=stems)])
    entry = entries[stems.index(found["model"])] if "model" in found else entries[0]
    values, more = decode(params, link_fields(stems, entry.metadata))
    problems += more
    ss = st.session_state
    labels = {e.path.stem: e.label for e in entries}
    ss["model_choice"] = entry.label
    if "compare" in values:  # the link's pick stands, whatever task it was trained on
        ss["compare_model"], ss["_compare_task"] = labels[values.pop("compare")], task_of(entry.metadata)
    if "sample" in values:
        name = values.pop("sample")
        sample = next(s for s in samples(task_of(entry.metadata)) if s.name == name)
        ss["source"], ss["sample"] = "Gallery", f"{sample.class_name} ({sample.name})"
    if "norm" in values:
        ss["norm"] = {v: k for k, v in NORMS.items()}[values.pop("norm")]
    if "eps" in values:
        eps = values.pop("eps")
        if ss.get("norm", "L-inf") == "L-inf" and eps == int(eps):
            ss["eps"] = int(eps)
        elif ss.get("norm") == "L2" and eps <= 10 and (eps * 4) == int(eps * 4):
            ss["eps_l2"] = float(eps)
        else:
            problems.append(f"'eps={eps:g}' in the link is not a whole number of /255 (L-inf) or a multiple of "
                            "0.25 up to 10 (L2); the default is used")
    if "target" in values:
        ss["target"] = {v: k for k, v in TARGETS.items()}[values.pop("target")]
    if "attack" in values:
        ss["_auto_attack"] = values.pop("attack")
    if "tab" in values:
        ss["section"] = values.pop("tab")
    if "alpha" in values:
        values["alpha"] = round(values["alpha"] * 20) / 20  # the opacity slider's steps
    ss.update(values)  # the rest are widget keys with the link's own names
    return problems


def update_link(choice: ModelChoice, picked_sample: str | None, shown: bool) -> None:
    """The page's current settings into its URL, so the address bar is a shareable view. Uploads
    cannot travel in a link: with an uploaded model or image the URL is cleared."""
    ss = st.session_state
    if choice.stem is None or picked_sample is None:
        st.query_params.clear()
        return
    norm = NORMS[ss.get("norm", "L-inf")]
    values: dict[str, Any] = {
        "model": choice.stem, "sample": picked_sample, "glances": ss.get("glances"),
        "attack_glances": ss.get("attack_glances"), "norm": norm,
        "eps": ss.get("eps") if norm == "linf" else ss.get("eps_l2"), "steps": ss.get("steps"),
        "step_size": ss.get("step_size"), "target": TARGETS[ss.get("target", next(iter(TARGETS)))],
        "restarts": ss.get("restarts"),
        "seed": ss.get("seed"), "early_stop": ss.get("early_stop"), "head": ss.get("head"),
        "cmap": ss.get("cmap"), "alpha": ss.get("alpha"), "tab": ss.get("section"), "attack": shown}
    if values["target"] == "class":
        values["target_class"] = ss.get("target_class")
    compare = ss.get("compare_model")
    if compare:
        values["compare"] = next((e.path.stem for e in catalog()[0] if e.label == compare), None)
    wanted = encode(values)
    if wanted != st.query_params.to_dict():
        st.query_params.from_dict(wanted)


# ---------------------------------------------------------------- sidebar
@dataclass(frozen=True)
class ModelChoice:
    model: torch.nn.Module
    sha256: str  # of the checkpoint file
    name: str
    stem: str | None = None  # the catalogue name a link can carry (None for an upload)

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
    sample: str | None = None  # the gallery file a link can carry (None for an upload)
    content: tuple[int, int, int, int] | None = None  # the upload's own pixels (not the letterbox)

    @property
    def own_pixels(self) -> np.ndarray:
        """The image without the fit's padding: what to compare with a model's training inputs."""
        if self.content is None:
            return self.image
        x0, y0, x1, y1 = self.content
        return self.image[y0:y1, x0:x1]


def choose_image(size: int, class_names: list[str], preferred_fit: str = "letterbox",
                 task: str = DEFAULT_TASK) -> ImageChoice | None:
    st.sidebar.header("Image")
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
        label = sample.label if class_names[sample.label] == sample.class_name else None
        return ImageChoice(sample.image, f"sample:{sample.name}", sample.name, label, sample.box, (), sample.name)
    up = st.sidebar.file_uploader("Image file", type=UPLOAD_TYPES, key="image_upload",
                                  max_upload_size=MAX_FILE_BYTES // 2**20)
    preferred_fit = preferred_fit if preferred_fit in FIT_MODES else FIT_MODES[0]
    fit = st.sidebar.selectbox("Fit to the model's square input", FIT_MODES, index=FIT_MODES.index(preferred_fit),
                               key=f"fit:{preferred_fit}",  # a model that prefers another fit starts from it
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
            box = (xs[0], ys[0], xs[1], ys[1])
        else:
            st.sidebar.warning("The box is empty; widen it.")
    key = f"upload:{hashlib.sha256(data).hexdigest()}:{fit}"
    return ImageChoice(prepared.image, key, up.name, None, box, tuple(prepared.notes), content=prepared.content)


@dataclass(frozen=True)
class AttackChoice:
    config: AttackConfig | None  # None when the settings do not make an attack (the page says why)
    seed: int
    glances: int  # the count the attack is crafted against (the attacker's)
    slot: Any  # where the Run button goes once the page knows the image


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


def choose_display(heads: int, image_size: int) -> Display:
    st.sidebar.header("Display")
    head = st.sidebar.radio("Heads", ["mean"] + [str(i) for i in range(heads)], horizontal=True, key="head")
    cmap = st.sidebar.selectbox("Colour map", list(COLORMAPS), key="cmap")
    alpha = st.sidebar.slider("Heatmap opacity", 0.0, 1.0, step=0.05, key="alpha")
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


def guarded(what: str, work: Callable[[Callable[[float], None]], Any]) -> Any | None:
    """Run ``work(progress)`` under a progress bar; failures become messages and return None.
    A control moved meanwhile stops the page (Streamlit raises out of the progress update), so
    nothing half-done is cached or shown."""
    bar, progress = progress_bar(what)
    try:
        return work(progress)
    except BusyError as exc:
        st.warning(str(exc))
    except ValueError as exc:
        st.error(f"{what} could not run: {exc}")
    except (RuntimeError, MemoryError) as exc:  # e.g. out of memory on a large model
        st.error(f"{what} failed: {exc}. Try fewer steps, restarts or glances.")
    finally:
        bar.empty()
    return None


def outcome_text(run: AttackRun, class_names: list[str]) -> str:
    return f"{'reached' if run.success else 'did not reach'} {run.goal(class_names)}"


def compare_section(choice: ModelChoice, subject: Subject, cfg: AttackConfig, seed: int, display: Display) -> None:
    entries, _ = catalog()
    labels = [e.label for e in entries]
    task = task_of(subject.model.metadata)  # type: ignore[arg-type]
    ss = st.session_state
    if ss.get("_compare_task") != task:  # first visit, or a model of another task: its own baseline
        ss["_compare_task"] = task
        picked = next((e for e in entries if e.label == ss.get("compare_model")), None)
        if picked is None or task_of(picked.metadata) != task:
            ss["compare_model"] = compare_default(entries, task).label
    pick = st.selectbox("Compare with", labels, key="compare_model",
                        help="The same image, attack settings, target and seed run against both models.")
    entry = entries[labels.index(pick)]
    try:
        other, sha = shipped_model(str(entry.path), entry.path.stat().st_mtime, use_inference_form())
    except (CheckpointError, OSError) as exc:
        st.error(f"Cannot open {entry.path.name}: {exc}")
        return
    problem = incompatibility(subject.model, other)
    if problem:
        st.error(f"{choice.name} and {entry.path.name} cannot be compared: {problem}.")
        return
    second = ModelChoice(other, sha, entry.path.name, entry.path.stem)
    other_subject = replace(subject, model=other, model_key=second.key)
    runs = [lab().cached_attack(s, cfg, seed) for s in (subject, other_subject)]
    if any(r is None for r in runs):
        if not st.button(f"Run the attack on both models ({cfg.steps} steps each)", key="run_compare"):
            st.caption("The attack in the sidebar, on the model in use and on the one chosen here.")
            return
        if guarded("Attacking both models", lambda p: lab().compare(subject, other_subject, cfg, seed, p)):
            st.rerun()  # draw the page again from the cache: the main view shows the attack too
        return
    names = subject.class_names
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
    # deferred: the files are encoded on click, not on every rerun of the open tab (the HTML
    # inlines 3.5 MB of plotly.js)
    c1.download_button("PNG", lambda: to_png(sheet), f"{stem}.png", MIME["png"], key="compare_png",
                       on_click="ignore")
    c2.download_button("HTML", lambda: to_html([figure], "S3TA Lab: compare", notes), f"{stem}.html",
                       MIME["html"], key="compare_html", on_click="ignore")


def grid_section(subject: Subject, cfg: AttackConfig, seed: int) -> None:
    if subject.model.max_glances == 1:
        st.info("This model has no glances: there is no attacker or defender count to vary.")
        return
    grid = lab().cached_study("grid", subject, cfg, seed)
    if grid is None:
        counts = "/".join(map(str, GLANCE_COUNTS))
        if not st.button(f"Run the glance grid ({len(GLANCE_COUNTS)} attacks, crafted at {counts})", key="run_grid"):
            st.caption("Attacks crafted against each glance count, each read at every count without "
                       "re-attacking: does thinking longer recover the true class?")
            return
        if guarded("Attacking at each glance count", lambda p: lab().glance_grid(subject, cfg, seed, progress=p)):
            st.rerun()  # the button goes; the page's own attack (one of the five) shows too
        return
    st.plotly_chart(grid_figure(grid, subject.class_names), key="grid_chart")
    names = subject.class_names
    st.caption("Rows: the count the attack was crafted against (its target: "
               + ", ".join(f"{n} -> {names[t]}" for n, t in zip(grid.crafted, grid.targets))
               + "). Columns: the count the model reads the adversarial image at.")


def race_section(choice: ModelChoice, subject: Subject, cfg: AttackConfig, seed: int) -> None:
    rows = dataset_race(subject.model.metadata)
    st.markdown("**On the test set** (stored in the checkpoint by its evaluation)")
    if rows:
        settings = sorted({(r["target"], float(r["eps_255"])) for r in rows})
        pick = st.selectbox("Attack", [f"{t} target, eps {e:g}/255" for t, e in settings], key="race_setting")
        target, eps = settings[[f"{t} target, eps {e:g}/255" for t, e in settings].index(pick)]
        entries, _ = catalog()
        base = race_baseline(entries, subject.model.metadata, subject.model.has_attention)  # type: ignore[arg-type]
        drawn = race_beside(rows, dataset_race(base.metadata) if base else None)
        st.plotly_chart(race_figure(drawn, eps, target), key="race_dataset_chart")
        n = rows[0].get("n", "?")
        beside = (f" Dashed: {base.path.stem}, the listed pooling baseline of the same task (no glances), "
                  f"from its own checkpoint." if base and len(drawn) > len(rows) else "")
        st.caption(f"{n} test canvases; accuracy under PGD aimed at each glance count, by attack steps.{beside}")
    else:
        st.caption(f"{choice.name} stores no race. `python -m experiments.evaluate grid --checkpoints "
                   f"{choice.name} --write-metadata` measures and stores one.")
    st.markdown("**On this image**")
    if subject.model.max_glances == 1:
        st.caption("This model has no glances.")
        return
    race = lab().cached_study("race", subject, cfg, seed)
    if race is None:
        if not st.button(f"Run the race on this image ({len(GLANCE_COUNTS)} attacks of {cfg.steps} steps)",
                         key="run_race"):
            return
        if guarded("Racing", lambda p: lab().race(subject, cfg, seed, progress=p)):
            st.rerun()
        return
    st.plotly_chart(image_race_figure(race, subject.class_names), key="race_image_chart")


def thumbnail(image: np.ndarray) -> str:
    return image_data_uri(enlarge(to_uint8(image), 2))


def batch_section(choice: ModelChoice, cfg: AttackConfig, seed: int, glances: int) -> None:
    model = choice.model
    size = model.config.image_size
    names = list(model.metadata["class_names"])
    source = st.radio("Images", ["The gallery", "Uploaded images"], horizontal=True, key="batch_source")
    items: list[tuple[str, np.ndarray, int | None, tuple[int, int, int, int] | None, str]] = []
    if source == "The gallery":
        items = [(s.name, s.image, s.label if names[s.label] == s.class_name else None, s.box, f"sample:{s.name}")
                 for s in samples(task_of(model.metadata)) if s.image.shape[:2] == (size, size)]
        if not items:
            st.warning(f"The gallery holds canvases of another size than this model's {size} px.")
            return
    else:
        ups = st.file_uploader(f"Images (at most {MAX_BATCH})", type=UPLOAD_TYPES, accept_multiple_files=True,
                               key="batch_uploads", max_upload_size=MAX_FILE_BYTES // 2**20)
        if len(ups or []) > MAX_BATCH:
            st.warning(f"{len(ups)} images: the batch takes the first {MAX_BATCH}.")
        for up in (ups or [])[:MAX_BATCH]:
            data = up.getvalue()
            try:
                prepared = prepare_image(data, size, "letterbox")
            except ImageError as exc:
                st.caption(f"skipped {up.name}: {exc}")
                continue
            items.append((up.name, prepared.image, None, None, f"upload:{hashlib.sha256(data).hexdigest()}:letterbox"))
        if not items:
            st.caption("Upload images here to attack them all with the sidebar's settings.")
            return
    subjects = []
    for name, image, label, box, key in items:
        s = Subject(model, choice.key, image, key, name, -1, box, glances)
        # no known label: the attack moves away from the clean prediction, as on the page
        subjects.append(replace(s, label=lab().clean(s).label if label is None else label))
    rows = lab().cached_batch(subjects, cfg, seed)
    if rows is None:
        if not st.button(f"Attack all {len(subjects)} images", key="run_batch"):
            st.caption("Each attack is cached like the page's own: picking an image afterwards shows it at once.")
            return
        if guarded(f"Attacking {len(subjects)} images", lambda p: lab().batch(subjects, cfg, seed, p)):
            st.rerun()
        return
    runs = [lab().cached_attack(s, cfg, seed) for s in subjects]
    table = {"clean": [thumbnail(s.image) for s in subjects],
             "adversarial": [thumbnail(r.image) if r is not None else None for r in runs],
             "image": [r.name for r in rows], "label": [names[r.label] for r in rows],
             "target": [names[r.target] for r in rows], "success": [r.success for r in rows],
             "adversarial prediction": [names[r.adversarial_class] for r in rows],
             "mass in box, clean": [r.mass_clean for r in rows],
             "mass in box, adversarial": [r.mass_adversarial for r in rows]}
    st.metric("Attacks that reached their goal", f"{sum(r.success for r in rows)} of {len(rows)}")
    st.dataframe(table, hide_index=True, key="batch_table", column_config={
        "clean": st.column_config.ImageColumn("clean"), "adversarial": st.column_config.ImageColumn("adversarial"),
        "mass in box, clean": st.column_config.NumberColumn(format="%.3f"),
        "mass in box, adversarial": st.column_config.NumberColumn(format="%.3f")})
    st.download_button("CSV", batch_csv(rows, names), "batch.csv", "text/csv", key="batch_csv", on_click="ignore")


def gallery_section(task: str) -> None:
    shown, canvases = gallery(task)
    st.caption(f"The shipped test canvases of {shown}, the item's box in green; pick one in the sidebar.")
    cols = st.columns(5)
    for i, (s, thumb) in enumerate(zip(canvases, thumbnails(shown))):
        cols[i % 5].image(thumb, caption=f"{s.class_name} ({s.name})", width=150)


def model_section(choice: ModelChoice) -> None:
    meta = choice.model.metadata
    st.json(describe(meta), expanded=False)
    with st.expander("Full metadata"):
        st.json({k: v for k, v in meta.items() if k != "history"}, expanded=False)


def offer_better_fit(image: np.ndarray, choice: ModelChoice) -> None:
    """Name the listed models this image is not far from, with a button that opens each."""
    def switch(label: str) -> None:
        st.session_state["model_choice"] = label

    for entry in better_fits(image, catalog()[0], choice.stem)[:3]:
        meta = entry.metadata
        about = meta.get("description") or f"{len(meta.get('class_names', []))} classes"
        st.info(f"This image looks like the training data of **{entry.path.stem}** "
                f"({meta.get('task', 'another task')}): {about}")
        st.button(f"Open {entry.path.stem}", key=f"fit_{entry.label}", on_click=switch, args=(entry.label,))


# ---------------------------------------------------------------- page
def main() -> None:
    st.set_page_config(page_title="S3TA Lab", layout="wide")
    st.title("S3TA Lab")
    for problem in apply_link():
        st.warning(f"This link could not be followed entirely: {problem}.")
    for key, value in DEFAULTS.items():  # widgets read their state (a link may have set it)
        st.session_state.setdefault(key, value)
    choice = choose_model()
    if choice is None:
        st.query_params.clear()
        return
    model = choice.model
    class_names = list(model.metadata["class_names"])
    config = model.config
    st.caption(f"Model **{choice.name}** · {model.metadata.get('task', 'unknown task')} · "
               f"{config.arch} · {len(class_names)} classes · device: **{device()}** · "
               + ("inference form (BatchNorm folded, channels last: about 0.6 of the eager cost per attack "
                  "step; not compiled, so the first attack costs what every later one does)"
                  if use_inference_form() else "eager model (S3TA_INFERENCE_FORM=0)"))
    if model.metadata.get("description"):  # what the model is, in its own words (e.g. the cued model's looks)
        st.caption(str(model.metadata["description"]))
    picked = choose_image(config.image_size, class_names, str(model.metadata.get("input_fit", "letterbox")),
                          task_of(model.metadata))
    st.session_state.setdefault("glances", min(model.default_glances, MAX_GLANCES))
    glances = st.sidebar.slider("Glances", 1, MAX_GLANCES, key="glances",
                                help="How long the model looks (the defender). An attack keeps the count it "
                                     "was crafted against; moving this reads its image at another count.")
    attack = choose_attack(class_names, min(model.default_glances, MAX_GLANCES))
    cfg, seed = attack.config, attack.seed
    display = choose_display(model.heads, config.image_size)
    if picked is None:
        st.query_params.clear()
        return
    for note in picked.notes:
        st.caption(note)
    far = domain_warnings(picked.own_pixels, model.metadata.get("input_stats"))
    for warning in far:
        st.warning(f"This image is far from the training data: {warning}. Predictions may mean little.")
    if far:
        offer_better_fit(picked.own_pixels, choice)

    def subject_for(label: int, n: int) -> Subject:
        return Subject(model, choice.key, picked.image, picked.key, picked.name, label, picked.box, n)

    clean = lab().clean(subject_for(-1, glances))  # the clean view does not depend on the label
    label = picked.label if picked.label is not None else lab().clean(subject_for(-1, attack.glances)).label
    subject = subject_for(label, glances)  # the defender's view
    attacker = subject_for(label, attack.glances)  # what the attack is crafted against
    if picked.label is None:
        st.caption(f"No known label: the attack treats the clean prediction "
                   f"({class_names[label]}) as the class to move away from.")

    run = None
    if cfg is not None:
        run = lab().cached_attack(attacker, cfg, seed)
        wanted = st.session_state.pop("_auto_attack", False)  # a shared link that showed an attack
        if cfg.target == "class" and cfg.target_class == label:
            attack.slot.warning("The chosen target class is the class being attacked; choose another one.")
        elif attack.slot.button("Run attack", type="primary", key="run_attack", disabled=run is not None,
                                help="Results are kept: moving back to settings already run shows them at once."):
            if guarded("Attacking", lambda p: lab().attack(attacker, cfg, seed, progress=p)) is not None:
                st.rerun()  # redraw the sidebar with the result cached (the button greys out)
        elif wanted and run is None:  # no rerun: the link's messages above stay on the page
            run = guarded("Attacking", lambda p: lab().attack(attacker, cfg, seed, progress=p))
    shown = None if run is None else replace(run, prediction=lab().defend(attacker, run, glances))

    left, right = st.columns([3, 1])
    with left:
        st.plotly_chart(glance_figure(subject.image, clean, shown, class_names, subject.box, display),
                        key="glances_chart")
    with right:
        top5(clean, class_names, "Clean")
        if shown is not None:
            top5(shown.prediction, class_names, "Adversarial")
            st.caption(f"The attack {outcome_text(run, class_names)} against {run.glances} glances "
                       f"in {run.seconds:.2f} s.")
            if run.glances != glances:
                st.caption(f"Crafted against {run.glances} glances, read here at {glances}: the model now "
                           f"predicts {class_names[shown.prediction.label]}.")
        else:
            st.caption("Press **Run attack** in the sidebar to attack this image.")

    tabs = st.tabs(SECTIONS, key="section", on_change="rerun")  # only the open tab runs
    sections = {
        "Probabilities": lambda: probabilities_section(clean, shown, label, class_names),
        "Attention pull": lambda: pull_section(subject, clean, shown, display),
        "Perturbation": lambda: perturbation_section(subject.image, shown, display),
        "Attack drift": lambda: st.plotly_chart(drift_figure(run, class_names, subject.box, display),
                                                key="drift_chart"),
        "Compare models": lambda: compare_section(choice, attacker, cfg, seed, display),
        "Glance grid": lambda: grid_section(attacker, cfg, seed),
        "Race": lambda: race_section(choice, attacker, cfg, seed),
        "Batch": lambda: batch_section(choice, cfg, seed, attack.glances),
        "Attributions": lambda: attribution_section(subject, clean, shown, display),
        "Export": lambda: export_section(subject, shown, display, choice),
        "Model": lambda: model_section(choice),
        "Gallery": lambda: gallery_section(task_of(model.metadata))}
    needs_attack = {"Attention pull", "Perturbation", "Attack drift"}
    needs_settings = {"Compare models", "Glance grid", "Race", "Batch"}
    for name, tab in zip(SECTIONS, tabs):
        if not tab.open:
            continue
        with tab:
            if name in needs_attack and run is None:
                st.caption("Run an attack (sidebar) to see this.")
            elif name in needs_settings and cfg is None:
                st.caption("Fix the attack settings in the sidebar to run this.")
            else:
                sections[name]()
    update_link(choice, picked.sample, run is not None)


if __name__ == "__main__":
    main()
