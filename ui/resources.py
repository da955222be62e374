"""What one server process shares across sessions: the opened models, the Lab (cached results,
attack gate), the sample galleries and the checkpoint catalogue."""

from __future__ import annotations

import os
from pathlib import Path

import streamlit as st
import torch
from torch import nn

from compute.catalog import Entry, list_checkpoints, load_uploaded, models_dir, open_checkpoint
from compute.images import Sample, task_gallery
from compute.lab import Lab
from model.checkpoint import DEFAULT_CHECKPOINT, file_sha256
from viz.files import to_png_strip
from viz.frames import draw_box, enlarge, to_uint8


def device() -> str:
    return "cuda" if torch.cuda.is_available() else "cpu"


def use_inference_form() -> bool:
    """Attacks run on the checkpoints' inference forms unless ``S3TA_INFERENCE_FORM=0``."""
    return os.environ.get("S3TA_INFERENCE_FORM", "1") != "0"


@st.cache_resource(show_spinner="Loading the model…", max_entries=8)
def _shipped_model(path: str, mtime: float, fast: bool) -> tuple[nn.Module, str]:
    return open_checkpoint(path, device(), fast), file_sha256(path)


def open_entry(entry: Entry) -> tuple[nn.Module, str]:
    """A listed checkpoint's inference form (what attacks run on) with its sha256: one copy per
    process and file version, shared read-only. Raises ``CheckpointError`` or ``OSError``."""
    return _shipped_model(str(entry.path), entry.path.stat().st_mtime, use_inference_form())


@st.cache_resource(show_spinner="Loading the uploaded checkpoint…", max_entries=4)
def _uploaded_model(sha256: str, fast: bool, _data: bytes) -> nn.Module:
    return load_uploaded(_data, device(), fast)


def open_upload(sha256: str, data: bytes) -> nn.Module:
    """An uploaded checkpoint's model, once per file content. Raises ``CheckpointError``."""
    return _uploaded_model(sha256, use_inference_form(), data)


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
    def drawn(s: Sample) -> bytes:
        zoom = 2 if s.image.shape[0] <= 128 else 1  # canvases at 2x, photos as they are
        big = enlarge(to_uint8(s.image), zoom)
        return to_png_strip((big if s.box is None else draw_box(big, s.box.scaled(zoom), thickness=2))[None])
    return [drawn(s) for s in samples(task)]


def catalog() -> tuple[list[Entry], list[str]]:
    """The listed checkpoints: the shipped ones and those in the models folder of now."""
    return _catalog(str(models_dir()))


@st.cache_data(ttl=30, show_spinner=False)
def _catalog(folder: str) -> tuple[list[Entry], list[str]]:
    return list_checkpoints([DEFAULT_CHECKPOINT.parent, Path(folder)])


def entry_by_label(label: str | None) -> Entry | None:
    return next((e for e in catalog()[0] if e.label == label), None)
