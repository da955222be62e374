"""Checkpoints: safetensors weights with JSON metadata in the header; never a pickle.

The header's ``s3ta`` entry is a JSON object with at least ``config`` (a ``ModelConfig``) and
``class_names``; training adds the task, the recipe, the exact command, seed, wall time, hardware
and measured metrics. A readable copy of that JSON is written beside the file.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, safe_open, save_file
from torch import nn

from .config import ModelConfig
from .domain import DomainGaussian
from .factory import ARCHITECTURES, build_model
from .info import CheckpointInfo
from .projection import BeliefProjection

__all__ = ["CheckpointError", "save_checkpoint", "read_metadata", "load_model", "load_checkpoint",
           "DEFAULT_CHECKPOINT", "file_sha256", "optimizer_tensors", "restore_optimizer", "store_metrics",
           "store_domain", "store_projection"]

DEFAULT_CHECKPOINT = Path(__file__).resolve().parent.parent / "assets" / "s3ta_default.safetensors"
META_KEY = "s3ta"


class CheckpointError(ValueError):
    """A file is not a usable checkpoint of this project; the message says why."""


def file_sha256(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def save_checkpoint(model: nn.Module, path: str | Path, metadata: dict[str, Any],
                    extra_tensors: dict[str, torch.Tensor] | None = None) -> Path:
    """Write ``model``'s weights (unwrapped from DDP) and ``metadata`` (JSON-able) to ``path``."""
    model = getattr(model, "module", model)
    meta = dict(metadata)
    meta["config"] = model.config.to_dict()
    if "class_names" not in meta:
        raise ValueError("metadata needs class_names")
    tensors = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    for k, v in (extra_tensors or {}).items():
        tensors[k] = v.detach().cpu().contiguous()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(meta, indent=1, sort_keys=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    save_file(tensors, str(tmp), metadata={META_KEY: text})
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # safetensors writes 0600; a checkpoint is meant to be shared
    tmp.replace(path)  # atomic: a crash never leaves half a checkpoint
    path.with_suffix(".json").write_text(text + "\n")
    return path


def _check_file(path: Path) -> None:
    """Refuse anything that does not start like a safetensors file, before parsing it."""
    if not path.is_file():
        raise CheckpointError(f"checkpoint not found: {path}")
    size = path.stat().st_size
    with open(path, "rb") as f:
        head = f.read(9)
    header_len = int.from_bytes(head[:8], "little") if len(head) >= 8 else 0
    if len(head) == 9 and 0 < header_len <= size - 8 and head[8:9] == b"{":
        return
    if head[:1] == b"\x80" or head[:4] == b"PK\x03\x04":
        raise CheckpointError(f"{path.name} looks like a pickle / torch.save file; only safetensors "
                              "checkpoints are loaded (pickles can run code). Convert it with "
                              "safetensors.torch.save_file on a trusted machine.")
    raise CheckpointError(f"{path.name} is not a readable safetensors file (bad header)")


def read_metadata(path: str | Path) -> dict[str, Any]:
    """The checkpoint's JSON metadata, validated enough to rebuild the model."""
    path = Path(path)
    _check_file(path)
    try:
        with safe_open(str(path), framework="pt") as f:
            header = f.metadata() or {}
    except (SafetensorError, OSError, ValueError) as exc:
        raise CheckpointError(f"{path.name} is not a readable safetensors file: {exc}") from exc
    if META_KEY not in header:
        raise CheckpointError(f"{path.name} has no S3TA Lab metadata (header key {META_KEY!r}); "
                              "it is not a checkpoint written by this project")
    try:
        meta = json.loads(header[META_KEY])
    except json.JSONDecodeError as exc:
        raise CheckpointError(f"{path.name}: metadata is not valid JSON: {exc}") from exc
    try:
        info = CheckpointInfo.from_metadata(meta)
    except ValueError as exc:
        raise CheckpointError(f"{path.name}: {exc}") from exc
    if info.config.arch not in ARCHITECTURES:
        raise CheckpointError(f"{path.name}: bad model config: arch must be one of {sorted(ARCHITECTURES)}, "
                              f"got {info.config.arch!r}")
    return meta


def load_checkpoint(path: str | Path, device: str | torch.device = "cpu"
                    ) -> tuple[nn.Module, dict[str, Any], dict[str, torch.Tensor]]:
    """(model in eval mode, metadata, tensors that are not model weights, e.g. optimizer state)."""
    path = Path(path)
    meta = read_metadata(path)
    config = ModelConfig.from_dict(meta["config"])
    try:  # a skeleton without storage first: a config that asks for a huge model costs nothing
        with torch.device("meta"):
            skeleton = build_model(config)
    except ValueError as exc:
        raise CheckpointError(f"{path.name}: cannot build the model its config describes: {exc}") from exc
    try:
        with safe_open(str(path), framework="pt") as f:
            shapes = {k: tuple(f.get_slice(k).get_shape()) for k in f.keys()}
    except (SafetensorError, OSError, ValueError) as exc:
        raise CheckpointError(f"{path.name}: cannot read the weights: {exc}") from exc
    own = {k: tuple(v.shape) for k, v in skeleton.state_dict().items()}
    floats = {k for k, v in skeleton.state_dict().items() if v.is_floating_point()}
    missing = sorted(set(own) - set(shapes))
    wrong = [f"{k}: file {shapes[k]} vs config {own[k]}" for k in own if k in shapes and shapes[k] != own[k]]
    if missing or wrong:
        raise CheckpointError(f"{path.name}: weights do not match its config: "
                              f"{len(missing)} missing (e.g. {missing[:3]}), "
                              f"{len(wrong)} mis-shaped (e.g. {wrong[:2]})")
    model = build_model(config)  # only now, when the file holds every weight the config needs
    try:
        tensors = load_file(str(path), device=str(device))
    except (SafetensorError, OSError, ValueError) as exc:
        raise CheckpointError(f"{path.name}: cannot read the weights: {exc}") from exc
    weights = {k: v for k, v in tensors.items() if k in own}
    extra = {k: v for k, v in tensors.items() if k not in own}
    bad = [k for k, v in weights.items() if k in floats and not v.is_floating_point()]
    if bad:
        raise CheckpointError(f"{path.name}: integer tensors where the model has floats: {bad[:3]}")
    model.load_state_dict(weights)
    model.to(device).eval()
    return model, meta, extra


def load_model(path: str | Path | None = None, device: str | torch.device = "cpu") -> nn.Module:
    """The model of a checkpoint in eval mode; ``None`` is the shipped default in ``assets/``.

    What the checkpoint says about itself is ``model.info`` (typed) and ``model.metadata`` (its JSON);
    ``model.domain`` is its out-of-domain fit and ``model.projection`` the plane its belief is
    followed on, when it stores them.
    """
    path = DEFAULT_CHECKPOINT if path is None else Path(path)
    model, meta, extra = load_checkpoint(path, device)
    model.info = CheckpointInfo.from_metadata(meta)
    try:
        model.domain = DomainGaussian.from_checkpoint(meta, extra)
        model.projection = BeliefProjection.from_checkpoint(meta, extra)
    except (ValueError, KeyError, TypeError) as exc:
        raise CheckpointError(f"{Path(path).name}: {exc}") from exc
    if model.domain is not None and model.domain.means.shape[1] != model.feature_dim:
        raise CheckpointError(f"{Path(path).name}: its out-of-domain fit reads {model.domain.means.shape[1]} "
                              f"features, the model computes {model.feature_dim}")
    if model.projection is not None and model.projection.state_dim != model.state_dim:
        raise CheckpointError(f"{Path(path).name}: its belief projection reads states of {model.projection.state_dim} "
                              f"values, the model computes {model.state_dim}")
    if model.projection is not None and len(model.projection.clouds) != model.config.num_classes:
        raise CheckpointError(f"{Path(path).name}: its belief projection holds {len(model.projection.clouds)} "
                              f"class clouds for {model.config.num_classes} classes")
    return model


def store_metrics(path: str | Path, name: str, value: Any) -> None:
    """Write ``value`` (JSON-able) into the checkpoint's ``metrics[name]``, keeping its weights,
    other tensors and the rest of its metadata (the readable JSON beside it is rewritten too)."""
    model, meta, extra = load_checkpoint(path)
    meta.setdefault("metrics", {})[name] = value
    meta.pop("config", None)  # save_checkpoint writes the model's own
    save_checkpoint(model, path, meta, extra)


def store_domain(path: str | Path, domain: DomainGaussian) -> None:
    """Write an out-of-domain fit into the checkpoint (its tensors beside the weights, its threshold
    and calibration in the metadata's ``domain``), keeping everything else."""
    model, meta, extra = load_checkpoint(path)
    meta["domain"] = domain.metadata()
    meta.pop("config", None)
    save_checkpoint(model, path, meta, {**extra, **domain.tensors()})


def store_projection(path: str | Path, projection: BeliefProjection) -> None:
    """Write a belief projection into the checkpoint (its tensors beside the weights, how it was
    fitted in the metadata's ``belief``), keeping everything else."""
    model, meta, extra = load_checkpoint(path)
    meta["belief"] = projection.metadata()
    meta.pop("config", None)
    save_checkpoint(model, path, meta, {**extra, **projection.tensors()})


def optimizer_tensors(optimizer: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Optimizer state as flat tensors (``optimizer.<param>.<name>``, stored beside the weights)
    plus a JSON-able rest for the metadata: a resumable checkpoint without a pickle."""
    state = optimizer.state_dict()
    tensors, scalars = {}, {}
    for idx, entry in state["state"].items():
        for k, v in entry.items():
            if torch.is_tensor(v):
                tensors[f"optimizer.{idx}.{k}"] = v
            else:
                scalars[f"{idx}.{k}"] = v
    groups = [dict(g) for g in state["param_groups"]]
    return tensors, {"scalars": scalars, "param_groups": groups}


def restore_optimizer(optimizer: torch.optim.Optimizer, tensors: dict[str, torch.Tensor],
                      info: dict[str, Any]) -> None:
    """The inverse of ``optimizer_tensors``: load the saved state into ``optimizer``."""
    state: dict[int, dict[str, Any]] = {}
    for key, v in tensors.items():
        if key.startswith("optimizer."):
            _, idx, name = key.split(".", 2)
            state.setdefault(int(idx), {})[name] = v
    for key, v in info["scalars"].items():
        idx, name = key.split(".", 1)
        state.setdefault(int(idx), {})[name] = v
    optimizer.load_state_dict({"state": state, "param_groups": info["param_groups"]})
