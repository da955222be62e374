"""The belief's path: where a model's state goes, glance by glance, on the plane stored with its
checkpoint (``model.projection``), for the clean image and for an adversarial one."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from model.checks import check_glances, check_image_array
from model.data import CANVAS_TASKS
from model.inference import model_device
from model.records import BeliefPath

__all__ = ["BeliefPath", "belief_path", "path_unavailable", "paths_csv", "settles"]


def path_unavailable(model: nn.Module, name: str) -> str | None:
    """Why the belief's path cannot be drawn for ``model`` (called ``name``), or None when it can."""
    if model.max_glances == 1:
        return (f"{name} has no glances: it pools the whole image once and answers, so its belief has no "
                "path to follow (the Strength sweep view shows how its answer gives way instead).")
    if model.projection is not None:
        return None
    task = model.info.task if model.info is not None else None
    if task not in CANVAS_TASKS:
        return (f"{name} stores no plane to follow its belief on: the plane and the classes' clouds are fitted on "
                f"labelled test images of the model's task, and its task ({task or 'unknown'}) has none here.")
    return (f"{name} stores no plane to follow its belief on. `python -m scripts.fit_belief {name} --write` "
            "fits one on test canvases of its task and stores it in the checkpoint.")


@torch.no_grad()
def belief_path(model: nn.Module, image: np.ndarray, glances: int) -> BeliefPath:
    """The state after each of ``glances`` glances (the model's longest unroll at most) of
    ``image`` (H, W, 3) in [0, 1], projected on the model's stored plane."""
    if model.projection is None:
        raise ValueError("the model stores no belief projection")
    check_image_array(image)
    n = model.glances_for(check_glances(glances))
    x = torch.from_numpy(np.ascontiguousarray(image, dtype=np.float32)).permute(2, 0, 1)[None]
    out = model(x.to(model_device(model)), glances=n)
    probs = out.step_logits.softmax(-1)[0].cpu().numpy()  # (N, C)
    return BeliefPath(model.projection.project(out.step_states[0]), probs.argmax(axis=1), probs.max(axis=1))


def settles(path: BeliefPath) -> int:
    """The glance (1-based) from which the class read stays the one read after the last glance."""
    changed = np.flatnonzero(path.predicted != path.predicted[-1])
    return int(changed[-1]) + 2 if len(changed) else 1


def paths_csv(paths: Sequence[tuple[str, BeliefPath]], class_names: Sequence[str]) -> bytes:
    """One row per path and glance (UTF-8): the 2-D coordinates, the class read and its probability."""
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(["path", "glance", "x", "y", "prediction", "probability"])
    for name, path in paths:
        for t, ((x, y), c, p) in enumerate(zip(path.points, path.predicted, path.confidence)):
            writer.writerow([name, t + 1, f"{x:.6f}", f"{y:.6f}", class_names[int(c)], f"{p:.4f}"])
    return buf.getvalue().encode("utf-8")
