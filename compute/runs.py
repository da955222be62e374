"""Model runs for display: one attack on one image with the drift of its iterates, gradient
attributions (captum Saliency and Integrated Gradients), and the numbers read off a run
(attention pull per glance, perturbation norms). Plain arrays and dataclasses; no drawing.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable

import numpy as np
import torch
from captum.attr import IntegratedGradients, Saliency
from torch import nn

from model.attacks import AttackConfig, attack_settings, pgd
from model.checks import check_glances, check_image_array
from model.inference import LogitsOnly, Prediction, model_device, predict
from model.metrics import attention_shift, select_head
from model.records import AttackRun, Box, Drift

__all__ = ["DEFAULT_ATTACK", "AttackRun", "Drift", "run_attack", "image_target", "attack_targets", "drift_steps",
           "attack_settings", "MAX_DRIFT_FRAMES",
           "attribution", "METHODS", "MAX_IG_STEPS", "pull_readout", "perturbation_norms", "step_size_from_255"]

MAX_DRIFT_FRAMES = 24
# The page's default attack, and that of the scripts that measure what the page shows: L-inf 32/255
# towards a random wrong class, 50 steps of 2/255, stop at success. 50 steps pull as much attention
# off the item as 20 and succeed more often; 2/255 rather than the protocol's 1/255 succeeds on
# 0.958 of test canvases against 0.896 (the rules and runs: studies/attention_pull/).
DEFAULT_ATTACK = AttackConfig(norm="linf", eps=32 / 255, steps=50, step_size=2 / 255, target="random",
                              early_stop=True)
METHODS = ("saliency", "integrated_gradients")
MAX_IG_STEPS = 256


def step_size_from_255(text: str) -> float | None:
    """A command line's L-inf step size in /255 units, or 'auto' (None: the protocol's max(1/255, eps/steps))."""
    if text.strip().lower() == "auto":
        return None
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not value > 0 or value == float("inf"):
        raise ValueError(f"step size must be 'auto' or a number > 0 (/255), got {text!r}")
    return value / 255


def image_target(image: np.ndarray, label: int, num_classes: int, seed: int) -> int:
    """The wrong class a "random" attack on one image aims at, drawn from the image's pixels and
    the seed: the same image and seed always aim at the same class, and a gallery's images spread
    over the wrong classes. (A generator seeded by the seed alone draws the same offset for every
    one-image batch, so every image would be aimed at its label minus one.)"""
    if num_classes < 2:
        raise ValueError(f"num_classes must be >= 2 (there must be a wrong class), got {num_classes}")
    pixels = np.ascontiguousarray(image, dtype=np.float32).tobytes()
    digest = hashlib.sha256(pixels + int(seed).to_bytes(8, "little", signed=True)).digest()
    return (int(label) + 1 + int.from_bytes(digest[:8], "little") % (num_classes - 1)) % num_classes


def attack_targets(cfg: AttackConfig, image: np.ndarray, label: int, num_classes: int, seed: int,
                   device: torch.device) -> torch.Tensor | None:
    """The (1,) target tensor of a one-image attack when ``cfg`` aims at a random wrong class,
    else None (the attack's own rule: the label, or the chosen class)."""
    if cfg.target != "random":
        return None
    return torch.tensor([image_target(image, label, num_classes, seed)], device=device)


def drift_steps(steps: int, frames: int = MAX_DRIFT_FRAMES) -> list[int]:
    """At most ``frames`` iteration indices from 0 to ``steps``, evenly spread, both ends kept."""
    if steps < 0 or frames < 2:
        raise ValueError(f"need steps >= 0 and frames >= 2, got {steps}, {frames}")
    return sorted({int(round(v)) for v in np.linspace(0, steps, min(frames, steps + 1))})


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
    check_image_array(image)
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
    aim = attack_targets(cfg, image, label, num_classes, seed, device)
    result = pgd(model, x, y, cfg, glances=glances, seed=seed, targets=aim, trace_steps=steps, callback=callback)
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




def attribution(model: nn.Module, image: np.ndarray, target: int, glances: int,
                method: str = "saliency", ig_steps: int = 32) -> np.ndarray:
    """(H, W) non-negative map: |attribution| summed over colour channels, for class ``target``
    of ``model`` unrolled for ``glances``. Integrated Gradients uses a black baseline."""
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    check_glances(glances)
    if not isinstance(ig_steps, int) or not 2 <= ig_steps <= MAX_IG_STEPS:
        raise ValueError(f"ig_steps must be an integer in [2, {MAX_IG_STEPS}], got {ig_steps!r}")
    num_classes = model.config.num_classes
    if not isinstance(target, (int, np.integer)) or not 0 <= target < num_classes:
        raise ValueError(f"target must be a class index in [0, {num_classes}), got {target!r}")
    forward = LogitsOnly(model, glances)
    x = torch.from_numpy(np.ascontiguousarray(image, np.float32)).permute(2, 0, 1)[None]
    x = x.to(model_device(model)).requires_grad_(True)
    if method == "saliency":
        attr = Saliency(forward).attribute(x, target=int(target), abs=True)
    else:
        attr = IntegratedGradients(forward).attribute(x, baselines=torch.zeros_like(x), target=int(target),
                                                      n_steps=ig_steps, internal_batch_size=ig_steps)
    return attr.detach().abs().sum(dim=1)[0].cpu().numpy()


def pull_readout(clean: Prediction, attack: AttackRun, image_size: tuple[int, int],
                 box: Box | None, head: int | None = None) -> dict[str, np.ndarray]:
    """Per glance (N,) for the chosen head (or the head mean): ``js`` divergence, ``com_shift``
    in pixels, and ``mass_clean``/``mass_adv`` in the box when there is one."""
    a = select_head(clean.attention, head)[:, None]
    b = select_head(attack.prediction.attention, head)[:, None]
    shift = attention_shift(a, b, image_size, None if box is None else np.asarray(box))
    return {k: v[:, 0] for k, v in shift.items() if not k.startswith("peaks")}


def perturbation_norms(clean: np.ndarray, adv: np.ndarray) -> dict[str, float]:
    """L-inf (in /255 units), L2, and the fraction of pixel values changed by the attack."""
    delta = np.asarray(adv, np.float64) - np.asarray(clean, np.float64)
    return {"linf_255": float(np.abs(delta).max() * 255), "l2": float(np.sqrt((delta ** 2).sum())),
            "changed": float((np.abs(delta) > 0.5 / 255).mean())}
