"""The paper's experiments on the images in the page, as numbers: attacker glances against
defender glances (the glance grid), the computational race for one image, a batch of attacks
with their attention pull, and whether two models can be compared on one attack.

Plain arrays and dataclasses; the cached, gated orchestration is ``compute.lab.Lab``.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import torch
from torch import nn

from model.attacks import AttackConfig, AttackResult, pgd
from model.checks import check_image_array
from model.inference import Prediction, model_device
from model.metrics import mean_box_mass
from model.records import AttackRun, Box, GlanceGrid, ImageRace

from .runs import drift_steps, image_target

__all__ = ["GLANCE_COUNTS", "GlanceGrid", "evaluate_grid", "ImageRace", "image_race", "BatchRow", "batch_row",
           "batch_csv", "incompatibility", "dataset_race", "race_beside",
           "MAX_RACE_POINTS", "MAX_BATCH", "batch_chunk", "ViewSetting", "glance_setting", "compare_setting"]

GLANCE_COUNTS = (1, 2, 4, 8, 16)  # the paper's unroll lengths
MAX_RACE_POINTS = 26  # attack steps drawn per line of the per-image race
MAX_BATCH = 24  # images in one batch view (the gallery has 10)
BATCH_PIXELS = MAX_BATCH * 96 * 96  # pixels attacked side by side: the batch view's canvases in one go


def batch_chunk(size: tuple[int, int]) -> int:
    """How many images of ``size`` (H, W) are attacked side by side: all of a batch of canvases,
    fewer of larger photos, whose activations and gradients would not fit many at a time."""
    return max(1, BATCH_PIXELS // (int(size[0]) * int(size[1])))


def _tensor(images: Sequence[np.ndarray], device: torch.device) -> torch.Tensor:
    for image in images:
        check_image_array(image)
    return torch.from_numpy(np.ascontiguousarray(np.stack(images), dtype=np.float32)).permute(0, 3, 1, 2).to(device)


@torch.no_grad()
def evaluate_grid(model: nn.Module, image: np.ndarray, runs: Sequence[AttackRun], label: int,
                  evaluated: Sequence[int] = GLANCE_COUNTS) -> GlanceGrid:
    """Read the clean image and every run's adversarial image at every count in ``evaluated``:
    one unroll to the largest count serves them all (glance t never sees later ones)."""
    counts = tuple(int(g) for g in evaluated)
    longest = model.glances_for(max(counts))
    out = model(_tensor([image] + [r.image for r in runs], model_device(model)), glances=longest)
    probs = out.step_logits.softmax(-1).cpu().numpy()  # (1 + C, N, classes)
    steps = [model.glances_for(g) - 1 for g in counts]  # a model without glances answers once
    at = probs[:, steps]  # (1 + C, E, classes)
    return GlanceGrid(tuple(r.glances for r in runs), counts, int(label), at[1:, :, label], at[1:].argmax(-1),
                      at[0, :, label], tuple(r.target for r in runs))


@torch.no_grad()
def _read(model: nn.Module, images: torch.Tensor, glances: int) -> np.ndarray:
    return model(images, glances=glances).logits.softmax(-1).cpu().numpy()


def image_race(model: nn.Module, image: np.ndarray, label: int, cfg: AttackConfig, seed: int = 0,
               glances: Sequence[int] = GLANCE_COUNTS, progress: Callable[[float], None] | None = None,
               keep: Callable[[ImageRace], None] | None = None) -> ImageRace:
    """One PGD run of ``cfg.steps`` steps per glance count (no early stop: the curve goes on
    after success), its iterates read at that count. Every line starts from the same random
    start and aims at the same target (same seed). The counts are attacked side by side in one
    batch (each copy of the image read at its own count). When ``progress`` raises (the user
    stopped the run), ``keep`` is first handed the race up to the last step traced."""
    counts = tuple(sorted({model.glances_for(int(g)) for g in glances}))
    run_cfg = replace(cfg, early_stop=False, restarts=1)
    points = drift_steps(cfg.steps, MAX_RACE_POINTS)
    device = model_device(model)
    x = _tensor([image] * len(counts), device)
    y = torch.full((len(counts),), int(label), device=device)
    aim = None if cfg.target != "random" else torch.full(
        (len(counts),), image_target(image, label, model.config.num_classes, seed), device=device)
    callback = None if progress is None else (lambda done, total: progress(done / max(total, 1)))

    def race(trace: dict[tuple[int, int], torch.Tensor]) -> ImageRace:
        reached = [s for s in points if (0, s) in trace]
        true_probs, predicted = [], []
        for i, g in enumerate(counts):
            iterates = torch.cat([trace[(0, s)][i:i + 1] for s in reached]).to(device)
            probs = _read(model, iterates, g)  # (S, classes)
            true_probs.append(probs[:, label])
            predicted.append(probs.argmax(-1))
        return ImageRace(counts, tuple(reached), int(label), np.stack(true_probs), np.stack(predicted))

    def kept(partial: AttackResult) -> None:
        if keep is not None and any((0, s) in partial.trace for s in points):
            keep(race(partial.trace))

    result = pgd(model, x, y, run_cfg, glances=list(counts), seed=seed, targets=aim, trace_steps=points,
                 callback=callback, example_seeds=[seed] * len(counts), keep=kept)
    return race(result.trace)


@dataclass(frozen=True)
class BatchRow:
    """One image of a batch view: its name, the label attacked, the class aimed at, whether
    the attack reached it, the clean and adversarial predictions, and the glance- and
    head-averaged attention mass in the object's box before and after (None without a box)."""

    name: str
    label: int
    target: int
    success: bool
    clean_class: int
    adversarial_class: int
    mass_clean: float | None
    mass_adversarial: float | None


def _mass(prediction: Prediction, box: Box | None, size: tuple[int, int]) -> float | None:
    if box is None:
        return None
    return float(mean_box_mass(prediction.attention[None], np.asarray([box]), size)[0])


def batch_row(name: str, image: np.ndarray, box: Box | None, clean: Prediction,
              run: AttackRun) -> BatchRow:
    """The table row of one attacked image."""
    size = image.shape[:2]
    return BatchRow(name, run.label, run.target, run.success, clean.label, run.prediction.label,
                    _mass(clean, box, size), _mass(run.prediction, box, size))


def batch_csv(rows: Sequence[BatchRow], class_names: Sequence[str]) -> bytes:
    """The batch table as CSV (UTF-8), class names spelled out, masses to 4 decimals."""
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(["image", "label", "target", "success", "clean_prediction", "adversarial_prediction",
                     "mass_in_box_clean", "mass_in_box_adversarial"])
    for r in rows:
        writer.writerow([r.name, class_names[r.label], class_names[r.target], int(r.success),
                         class_names[r.clean_class], class_names[r.adversarial_class],
                         "" if r.mass_clean is None else f"{r.mass_clean:.4f}",
                         "" if r.mass_adversarial is None else f"{r.mass_adversarial:.4f}"])
    return buf.getvalue().encode("utf-8")


def incompatibility(first: nn.Module, second: nn.Module) -> str | None:
    """Why two models cannot be attacked with one setting and compared, or None when they can:
    the same class names in the same order and the same input size."""
    a, b = first.class_names, second.class_names
    if list(a) != list(b):
        return (f"the two models know different classes ({len(a)} and {len(b)}, "
                "or in another order): one attack cannot aim both at the same class")
    if first.config.image_size != second.config.image_size:
        return (f"the models take different input sizes ({first.config.image_size} and "
                f"{second.config.image_size} px): one image cannot be attacked for both")
    return None


def race_beside(rows: list[dict[str, Any]], other: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    """A model's stored race rows with another model's rows (a baseline's) at the same attack
    settings (target, eps) added, for one plot; the model's rows alone when ``other`` is None."""
    settings = {(r["target"], float(r["eps_255"])) for r in rows}
    return rows + [r for r in other or [] if (r["target"], float(r["eps_255"])) in settings]


def dataset_race(metadata: dict[str, Any]) -> list[dict[str, Any]] | None:
    """The robustness-grid rows stored in a checkpoint's metadata (``metrics.race.rows``: model,
    glances, target, eps_255, steps, acc), or None when it has none."""
    race = (metadata.get("metrics") or {}).get("race") if isinstance(metadata.get("metrics"), dict) else None
    rows = race.get("rows") if isinstance(race, dict) else None
    needed = {"model", "glances", "target", "eps_255", "steps", "acc"}
    if not isinstance(rows, list) or not rows or not all(isinstance(r, dict) and needed <= set(r) for r in rows):
        return None
    return rows


@dataclass(frozen=True)
class ViewSetting:
    """An attack budget a view opens with, chosen from a checkpoint's stored test-set race:
    ``eps_255`` under PGD of ``steps`` steps towards ``target``, and why, in words."""

    eps_255: float
    steps: int
    target: str
    why: str


def _at_most_steps(rows: Sequence[dict[str, Any]], target: str) -> list[dict[str, Any]]:
    """The rows of ``target`` at the largest attack step count stored for it, eps > 0."""
    mine = [r for r in rows if r["target"] == target and float(r["eps_255"]) > 0]
    if not mine:
        return []
    most = max(int(r["steps"]) for r in mine)
    return [r for r in mine if int(r["steps"]) == most]


def glance_setting(rows: Sequence[dict[str, Any]] | None, target: str = "random") -> ViewSetting | None:
    """The budget where the glance count matters most on a model: the largest spread of test-set
    accuracy across its stored glance counts, at the most attack steps (None without two counts)."""
    if not rows:
        return None
    by_eps: dict[float, dict[int, float]] = {}
    for r in _at_most_steps(rows, target):
        by_eps.setdefault(float(r["eps_255"]), {})[int(r["glances"])] = float(r["acc"])
    spreads = {e: max(a.values()) - min(a.values()) for e, a in by_eps.items() if len(a) > 1}
    if not spreads:
        return None
    eps = max(spreads, key=lambda e: (spreads[e], -e))
    accs = by_eps[eps]
    lo, hi = min(accs, key=accs.get), max(accs, key=accs.get)
    steps = int(_at_most_steps(rows, target)[0]["steps"])
    n = rows[0].get("n")
    spread = (f"accuracy {accs[lo]:.2f} at {lo} glance{'s' if lo > 1 else ''} to {accs[hi]:.2f} at {hi} "
              f"under PGD-{steps} at {eps:g}/255")
    why = f"where the glance count matters most on {n or '?'} test canvases: {spread}"
    if isinstance(n, int) and n > 0:
        p = sum(accs.values()) / len(accs)
        if spreads[eps] < 1.96 * math.sqrt(2 * p * (1 - p) / n):  # two accuracies on n canvases each
            why = (f"with the widest spread across glance counts on {n} test canvases, though no stored budget "
                   f"separates them beyond sampling noise on this model: {spread}")
    return ViewSetting(eps, steps, target, why)


def compare_setting(first: Sequence[dict[str, Any]] | None, glances: int, second: Sequence[dict[str, Any]] | None,
                    names: tuple[str, str], target: str = "random") -> ViewSetting | None:
    """The budget where two models' stored test-set accuracies differ most (the first read at
    ``glances``, or its nearest stored count; the second at its own), at the most attack steps."""
    if not first or not second:
        return None

    def accuracy(rows: Sequence[dict[str, Any]], want: int | None) -> dict[float, float]:
        top = _at_most_steps(rows, target)
        counts = sorted({int(r["glances"]) for r in top})
        if not counts:
            return {}
        g = counts[0] if want is None else min(counts, key=lambda c: (abs(c - want), c))
        return {float(r["eps_255"]): float(r["acc"]) for r in top if int(r["glances"]) == g}

    a, b = accuracy(first, glances), accuracy(second, None)
    shared = sorted(set(a) & set(b))
    steps_a, steps_b = _at_most_steps(first, target), _at_most_steps(second, target)
    if not shared or int(steps_a[0]["steps"]) != int(steps_b[0]["steps"]):
        return None
    eps = max(shared, key=lambda e: (abs(a[e] - b[e]), -e))
    steps = int(steps_a[0]["steps"])
    return ViewSetting(eps, steps, target, f"where the two differ most on the test canvases: {names[0]} "
                       f"{a[eps]:.2f} against {names[1]} {b[eps]:.2f} under PGD-{steps} at {eps:g}/255")
