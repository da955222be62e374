"""One image through the model and one attack on it, as plain arrays ready to draw.

This is what the app and ``python -m viz.export`` compute; it holds no drawing and no UI.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import Callable

import numpy as np
import torch
from torch import nn

from model.attacks import AttackConfig, pgd
from model.inference import Prediction, model_device, predict
from model.s3ta import check_glances

__all__ = ["AttackRun", "Drift", "run_attack", "drift_steps", "attack_settings", "MAX_DRIFT_FRAMES"]

MAX_DRIFT_FRAMES = 24


@dataclass(frozen=True)
class Drift:
    """The attack's iterates (restart 0) at ``labels`` ("step k"; the last frame is always the
    returned adversarial image): images (S, H, W, 3), attention (S, N, heads, h, w) and class
    probabilities after the last glance (S, C)."""

    labels: list[str]
    images: np.ndarray
    attention: np.ndarray
    probs: np.ndarray


@dataclass(frozen=True)
class AttackRun:
    """The adversarial image (H, W, 3) in [0, 1], its prediction, the label attacked (true label
    or the clean prediction), the class aimed at, whether the attack reached it, the drift."""

    image: np.ndarray
    prediction: Prediction
    label: int
    target: int
    success: bool
    drift: Drift
    config: AttackConfig
    seed: int
    glances: int
    seconds: float


def drift_steps(steps: int, frames: int = MAX_DRIFT_FRAMES) -> list[int]:
    """At most ``frames`` iteration indices from 0 to ``steps``, evenly spread, both ends kept."""
    if steps < 0 or frames < 2:
        raise ValueError(f"need steps >= 0 and frames >= 2, got {steps}, {frames}")
    return sorted({int(round(v)) for v in np.linspace(0, steps, min(frames, steps + 1))})


def attack_settings(cfg: AttackConfig, seed: int, glances: int) -> dict:
    """The attack as JSON-able settings, for export metadata and cache keys."""
    return {**asdict(cfg), "alpha": cfg.alpha, "eps_255": cfg.eps * 255 if cfg.norm == "linf" else None,
            "seed": int(seed), "glances": int(glances)}


@torch.no_grad()
def _trace_predictions(model: nn.Module, images: torch.Tensor, glances: int
                       ) -> tuple[np.ndarray, np.ndarray]:
    out = model(images.to(model_device(model)), glances=glances)
    return out.attention.cpu().numpy(), out.logits.softmax(-1).cpu().numpy()


def run_attack(model: nn.Module, image: np.ndarray, label: int, glances: int, cfg: AttackConfig,
               seed: int = 0, progress: Callable[[float], None] | None = None) -> AttackRun:
    """PGD on one (H, W, 3) image against ``model`` unrolled for ``glances``.

    ``label`` is what the attack moves away from (untargeted) and what a random target avoids:
    the true class when known, else the clean prediction. ``progress(fraction)`` is called as
    the attack runs. The drift keeps the iterates of the first restart (until it succeeds
    when ``cfg.early_stop``).
    """
    check_glances(glances)
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"expected an (H, W, 3) image, got shape {image.shape}")
    num_classes = model.config.num_classes
    if not isinstance(label, (int, np.integer)) or not 0 <= label < num_classes:
        raise ValueError(f"label must be a class index in [0, {num_classes}), got {label!r}")
    if cfg.target == "class" and cfg.target_class >= num_classes:  # type: ignore[operator]
        raise ValueError(f"target_class must be in [0, {num_classes}), got {cfg.target_class}")
    if cfg.target == "class" and cfg.target_class == label:
        raise ValueError(f"the target class {label} is the class being attacked; choose another one")
    t0 = time.perf_counter()
    device = model_device(model)
    x = torch.from_numpy(np.ascontiguousarray(image, dtype=np.float32)).permute(2, 0, 1)[None].to(device)
    y = torch.tensor([int(label)], device=device)
    steps = drift_steps(cfg.steps)
    callback = None if progress is None else (lambda done, total: progress(done / max(total, 1)))
    result = pgd(model, x, y, cfg, glances=glances, seed=seed, trace_steps=steps, callback=callback)
    traced = sorted(s for (r, s) in result.trace if r == 0)
    frames = [result.trace[(0, s)] for s in traced]
    labels = [f"step {s}" for s in traced]
    final = result.images.detach().cpu()
    if not torch.equal(frames[-1], final):
        frames.append(final)
        labels.append("result")
    else:
        labels[-1] += " (result)"
    stack = torch.cat(frames)
    attention, probs = _trace_predictions(model, stack, glances)
    adv = result.images[0].permute(1, 2, 0).cpu().numpy()
    drift = Drift(labels, stack.permute(0, 2, 3, 1).numpy(), attention, probs)
    return AttackRun(adv, predict(model, adv, glances), int(label), int(result.targets[0]),
                     bool(result.success[0]), drift, cfg, int(seed), int(glances),
                     time.perf_counter() - t0)
