"""The page's settings in one home: their limits and defaults, the session keys the widgets
write, the cache keys of images, and the link (the URL's query parameters) read once when a
session opens and written after every run, so the address bar is always a shareable view."""

from __future__ import annotations

import hashlib
from typing import Any

import streamlit as st

from compute.black_box import MAX_PAGE_QUERIES
from compute.catalog import Entry
from compute.runs import DEFAULT_ATTACK
from compute.sweep import MAX_BUDGET_255, MAX_BUDGETS, parse_budgets
from model.attacks import MAX_RESTARTS
from viz.frames import COLORMAPS

from .links import Field, decode, encode
from .resources import catalog, samples
from .views import VIEWS

MAX_GLANCES = 32
MAX_EPS_255 = 32
MAX_EPS_L2 = 10.0
MAX_STEPS = 200
MAX_RESTARTS_PAGE = min(MAX_RESTARTS, 10)
UPLOAD_TYPES = ["png", "jpg", "jpeg", "webp", "gif", "bmp", "tif", "tiff"]
TARGETS = {"random wrong class": "random", "chosen class": "class", "untargeted": "untargeted"}
NORMS = {"L-inf": "linf", "L2": "l2"}
SQUARE_NORMS = {"linf": "L-inf", "l2": "L2"}  # the black-box view's norms, by their link value
# L-inf step sizes in /255; "auto" is the paper's protocol, max(1/255, eps/steps) (L2 attacks always use it)
STEP_SIZES = ["auto", "0.5", "1", "2", "4", "8"]
DEFAULTS = {"eps": round(DEFAULT_ATTACK.eps * 255), "eps_l2": 2.0, "steps": DEFAULT_ATTACK.steps,
            "step_size": "auto" if DEFAULT_ATTACK.step_size is None else f"{DEFAULT_ATTACK.step_size * 255:g}",
            "restarts": 1, "seed": 0, "early_stop": DEFAULT_ATTACK.early_stop, "alpha": 0.6}
VIEW_TITLES = [v.title for v in VIEWS]
NO_PARTNER = "none"  # the strength sweep on the model in use alone


def sample_key(name: str) -> str:
    """The cache key of a gallery sample: its file name (the gallery is shipped and fixed)."""
    return f"sample:{name}"


def upload_key(data: bytes, fit: str) -> str:
    """The cache key of an uploaded image: its bytes' hash and how it was fitted to the model."""
    return f"upload:{hashlib.sha256(data).hexdigest()}:{fit}"


def set_defaults() -> None:
    """Widgets read their state from the session (a link may have set it): fill what is unset."""
    for key, value in DEFAULTS.items():
        st.session_state.setdefault(key, value)


def link_fields(stems: list[str], entry: Entry) -> list[Field]:
    """What a link may carry besides the model, checked against the linked model's classes and heads."""
    gallery_names = [s.name for s in samples(entry.task)]
    return [Field("compare", "choice", choices=stems), Field("sample", "choice", choices=gallery_names),
            Field("glances", "int", 1, MAX_GLANCES), Field("attack_glances", "int", 1, MAX_GLANCES),
            Field("norm", "choice", choices=list(NORMS.values())), Field("eps", "float", 0, MAX_EPS_255),
            Field("steps", "int", 1, MAX_STEPS), Field("step_size", "choice", choices=STEP_SIZES),
            Field("target", "choice", choices=list(TARGETS.values())),
            Field("target_class", "choice", choices=list(entry.metadata["class_names"])),
            Field("restarts", "int", 1, MAX_RESTARTS_PAGE), Field("seed", "int", 0, 2**31 - 1),
            Field("early_stop", "bool"), Field("attack", "bool"),
            Field("head", "choice", choices=["mean"] + [str(i) for i in range(entry.heads)]),
            Field("cmap", "choice", choices=list(COLORMAPS)), Field("alpha", "float", 0, 1),
            Field("tab", "choice", choices=VIEW_TITLES),
            Field("sweep_eps", "numbers", 0, MAX_BUDGET_255, most=MAX_BUDGETS),
            Field("sweep_with", "choice", choices=stems + [NO_PARTNER]), Field("path_glances", "int", 1, MAX_GLANCES),
            Field("bb_norm", "choice", choices=list(SQUARE_NORMS)), Field("bb_eps", "float", 0, MAX_EPS_255),
            Field("bb_eps_l2", "float", 0, MAX_EPS_L2), Field("bb_queries", "int", 1, MAX_PAGE_QUERIES)
            ] + [f for v in VIEWS for f in v.link]


def apply_link() -> tuple[list[str], str | None]:
    """Once per session, before any widget exists: the settings in the page's URL become the
    widgets' state. Returns (a message for each value that was dropped, the view it names)."""
    if st.session_state.get("_link_read"):
        return [], None
    st.session_state["_link_read"] = True
    params = st.query_params.to_dict()
    if not params:
        return [], None
    entries, _ = catalog()
    stems = [e.path.stem for e in entries]
    found, problems = decode(params, [Field("model", "choice", choices=stems)])
    entry = entries[stems.index(found["model"])] if "model" in found else entries[0]
    values, more = decode(params, link_fields(stems, entry))
    problems += more
    ss = st.session_state
    labels = {e.path.stem: e.label for e in entries}
    ss["model_choice"] = entry.label
    if "compare" in values:  # the link's pick stands, whatever task it was trained on
        ss["compare_model"], ss["_compare_task"] = labels[values.pop("compare")], entry.task
    if "sweep_with" in values:  # likewise the sweep's second model
        ss["_sweep_task"] = entry.task
    if "sample" in values:
        name = values.pop("sample")
        sample = next(s for s in samples(entry.task) if s.name == name)
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
    view = values.pop("tab", None)
    if "alpha" in values:
        values["alpha"] = round(values["alpha"] * 20) / 20  # the opacity slider's steps
    ss.update(values)  # the rest are widget keys with the link's own names
    return problems, view


def _budgets_text(text: str | None) -> str | None:
    """The sweep's budgets as a link writes them, or None while what is typed is not a valid list."""
    try:
        return None if text is None else ", ".join(f"{b:g}" for b in parse_budgets(text))
    except ValueError:
        return None


def update_link(model_stem: str | None, sample: str | None, view: str, shown: bool) -> None:
    """The page's current settings into its URL. Uploads cannot travel in a link: with an
    uploaded model the URL is cleared; with an uploaded image it keeps the model, the attack
    and the display, without a sample."""
    ss = st.session_state
    if model_stem is None:
        st.query_params.clear()
        return
    norm = NORMS[ss.get("norm", "L-inf")]
    values: dict[str, Any] = {
        "model": model_stem, "sample": sample, "glances": ss.get("glances"),
        "attack_glances": ss.get("attack_glances"), "norm": norm,
        "eps": ss.get("eps") if norm == "linf" else ss.get("eps_l2"), "steps": ss.get("steps"),
        "step_size": ss.get("step_size"), "target": TARGETS[ss.get("target", next(iter(TARGETS)))],
        "restarts": ss.get("restarts"),
        "seed": ss.get("seed"), "early_stop": ss.get("early_stop"), "head": ss.get("head"),
        "cmap": ss.get("cmap"), "alpha": ss.get("alpha"), "tab": view, "attack": shown and sample is not None,
        # a view's own settings, present while it is open (Streamlit drops a widget's state when it is not drawn)
        "sweep_eps": _budgets_text(ss.get("sweep_eps")), "sweep_with": ss.get("sweep_with"),
        "path_glances": ss.get("path_glances")}
    values |= {f.key: ss.get(f.key) for v in VIEWS if v.title == view for f in v.link}
    if values["target"] == "class":
        values["target_class"] = ss.get("target_class")
    values.update(black_box_link())
    compare = ss.get("compare_model")
    if compare:
        values["compare"] = next((e.path.stem for e in catalog()[0] if e.label == compare), None)
    wanted = encode(values)
    if wanted != st.query_params.to_dict():
        st.query_params.from_dict(wanted)


BLACK_BOX_KEYS = ("bb_norm", "bb_eps", "bb_eps_l2", "bb_queries")
_BLACK_BOX_SAVED = "_bb_settings"


def black_box_settings() -> dict[str, Any]:
    """The black-box view's settings: its widgets' values, or the last ones it drew (Streamlit
    forgets a widget's value in a run that does not draw it, e.g. while no image is picked)."""
    ss = st.session_state
    saved = ss.get(_BLACK_BOX_SAVED, {})
    return {k: ss[k] if k in ss else saved[k] for k in BLACK_BOX_KEYS if k in ss or k in saved}


def remember_black_box() -> None:
    """Keep the black-box view's settings past runs that do not draw its widgets."""
    st.session_state[_BLACK_BOX_SAVED] = black_box_settings()


def black_box_link() -> dict[str, Any]:
    """The black-box view's settings for the link, once it has been opened, when they are valid
    (a value the view refuses stays out of the link)."""
    found = black_box_settings()
    if "bb_norm" not in found:
        return {}
    norm = found["bb_norm"]
    eps_key, top = ("bb_eps", MAX_EPS_255) if norm == "linf" else ("bb_eps_l2", MAX_EPS_L2)
    eps, queries = found.get(eps_key), found.get("bb_queries")
    return {"bb_norm": norm, eps_key: eps if eps is not None and 0 < eps <= top else None,
            "bb_queries": queries if queries is not None and float(queries).is_integer()
            and 1 <= queries <= MAX_PAGE_QUERIES else None}
