"""Model runs for display: one attack on one image with the drift of its iterates, gradient
attributions (captum Saliency and Integrated Gradients), and the numbers read off a run
(attention pull per glance, perturbation norms). Plain arrays and dataclasses; no drawing.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
from captum.attr import IntegratedGradients, Saliency
from torch import nn

from model.attacks import AttackConfig, AttackResult, attack_settings, pgd
from model.checks import check_glances, check_image_array
from model.inference import LogitsOnly, Prediction, model_device
from model.metrics import attention_shift, select_head
from model.records import AttackRun, Box, Drift

__all__ = ["DEFAULT_ATTACK", "AttackRun", "Drift", "run_attack", "run_attacks", "read_images", "image_target",
           "drift_steps",
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


def drift_steps(steps: int, frames: int = MAX_DRIFT_FRAMES) -> list[int]:
    """At most ``frames`` iteration indices from 0 to ``steps``, evenly spread, both ends kept."""
    if steps < 0 or frames < 2:
        raise ValueError(f"need steps >= 0 and frames >= 2, got {steps}, {frames}")
    return sorted({int(round(v)) for v in np.linspace(0, steps, min(frames, steps + 1))})


@torch.no_grad()
def read_images(model: nn.Module, images: torch.Tensor, counts: Sequence[int], chunk: int = 64) -> list[Prediction]:
    """Each image (B, 3, H, W) read at its own glance count: one forward per count and chunk."""
    out: list[Prediction | None] = [None] * images.shape[0]
    device = model_device(model)
    for count in sorted(set(counts)):
        rows = [i for i, c in enumerate(counts) if c == count]
        for part in range(0, len(rows), chunk):
            which = rows[part:part + chunk]
            o = model(images[which].to(device), glances=count)
            probs, steps = o.logits.softmax(-1).cpu().numpy(), o.step_logits.softmax(-1).cpu().numpy()
            attention = o.attention.cpu().numpy()
            for j, i in enumerate(which):
                out[i] = Prediction(probs[j], steps[j], attention[j])
    return out  # type: ignore[return-value]


def check_run(model: nn.Module, image: np.ndarray, label: int, glances: int, cfg: Any) -> None:
    """A ValueError saying what is allowed when an attack (PGD's or Square's settings) cannot run on
    this image: the glance count, the image array, the label and a chosen target class."""
    check_glances(glances)
    check_image_array(image)
    num_classes = model.config.num_classes
    if not isinstance(label, (int, np.integer)) or not 0 <= label < num_classes:
        raise ValueError(f"label must be a class index in [0, {num_classes}), got {label!r}")
    if cfg.target == "class" and cfg.target_class >= num_classes:  # type: ignore[operator]
        raise ValueError(f"target_class must be in [0, {num_classes}), got {cfg.target_class}")
    if cfg.target == "class" and cfg.target_class == label:
        raise ValueError(f"the target class {label} is the class being attacked; choose another one")


def _runs(model: nn.Module, images: torch.Tensor, labels: Sequence[int], glances: Sequence[int],
          cfg: AttackConfig, seed: int, result: AttackResult, started: float) -> list[AttackRun | None]:
    """The finished examples of a PGD result as runs with their drift (restart 0's iterates up to
    where each stopped moving, then the returned image), the others None."""
    finished = result.finished if result.finished is not None else torch.ones_like(result.success)
    moved = result.moved if result.moved is not None else torch.full(result.success.shape, cfg.steps)
    final = result.images.detach().cpu()
    frames, labels_of = [], []
    for i in range(images.shape[0]):
        if not bool(finished[i]):
            frames.append(None)
            labels_of.append(None)
            continue
        traced = sorted(s for (r, s) in result.trace if r == 0 and s <= int(moved[i]) + 1)
        mine = [result.trace[(0, s)][i:i + 1] for s in traced]
        names = [f"step {s}" for s in traced]
        if not mine or not torch.equal(mine[-1], final[i:i + 1]):
            mine.append(final[i:i + 1])
            names.append("result")
        else:
            names[-1] += " (result)"
        frames.append(torch.cat(mine))
        labels_of.append(names)
    done = [i for i in range(images.shape[0]) if frames[i] is not None]
    if not done:
        return [None] * images.shape[0]
    stack = torch.cat([frames[i] for i in done])
    counts = [glances[i] for i in done for _ in range(frames[i].shape[0])]
    read = read_images(model, stack, counts)
    adversarial = read_images(model, final[done], [glances[i] for i in done])
    seconds = time.perf_counter() - started
    runs: list[AttackRun | None] = [None] * images.shape[0]
    at = 0
    for k, i in enumerate(done):
        n = frames[i].shape[0]
        mine = read[at:at + n]
        at += n
        drift = Drift(labels_of[i], frames[i].permute(0, 2, 3, 1).numpy(), np.stack([p.attention for p in mine]),
                      np.stack([p.probs for p in mine]))
        runs[i] = AttackRun(final[i].permute(1, 2, 0).numpy(), adversarial[k], int(labels[i]),
                            int(result.targets[i]), bool(result.success[i]), drift, cfg, int(seed),
                            int(glances[i]), seconds)
    return runs


def run_attacks(model: nn.Module, images: Sequence[np.ndarray], labels: Sequence[int],
                glances: Sequence[int], cfg: AttackConfig, seed: int = 0,
                progress: Callable[[float], None] | None = None,
                keep: Callable[[list[AttackRun | None]], None] | None = None) -> list[AttackRun]:
    """PGD on several (H, W, 3) images in one batch, each against ``model`` unrolled for its own
    glance count, each as it would run alone: its own random start (from the seed) and, for a
    random target, its own class (``image_target``). Arithmetic on a batch can differ from a
    one-image run in the last bits of a float, so a long attack may end a pixel away from it.

    ``label`` is what each attack moves away from (untargeted) and what a random target avoids:
    the true class when known, else the clean prediction. ``progress(fraction)`` is called as the
    attack runs; when it raises (the user stopped the run), ``keep`` is first handed the runs
    that had finished (None for the others).
    """
    if not images or len(images) != len(labels) or len(images) != len(glances):
        raise ValueError(f"need one label and one glance count per image, got {len(images)} images, "
                         f"{len(labels)} labels and {len(glances)} glance counts")
    for image, label, g in zip(images, labels, glances):
        check_run(model, image, label, g, cfg)
    started = time.perf_counter()
    device = model_device(model)
    x = torch.from_numpy(np.ascontiguousarray(np.stack(images), dtype=np.float32)).permute(0, 3, 1, 2).to(device)
    y = torch.tensor([int(v) for v in labels], device=device)
    counts = [model.glances_for(int(g)) for g in glances]
    num_classes = model.config.num_classes
    aim = None if cfg.target != "random" else torch.tensor(
        [image_target(im, lb, num_classes, seed) for im, lb in zip(images, labels)], device=device)
    callback = None if progress is None else (lambda done, total: progress(done / max(total, 1)))

    def kept(partial: AttackResult) -> None:
        if keep is not None:
            keep(_runs(model, x, labels, counts, cfg, seed, partial, started))

    result = pgd(model, x, y, cfg, glances=counts, seed=seed, targets=aim, trace_steps=drift_steps(cfg.steps),
                 callback=callback, example_seeds=[seed] * len(images), keep=kept)
    return _runs(model, x, labels, counts, cfg, seed, result, started)  # type: ignore[return-value]


def run_attack(model: nn.Module, image: np.ndarray, label: int, glances: int, cfg: AttackConfig,
               seed: int = 0, progress: Callable[[float], None] | None = None) -> AttackRun:
    """PGD on one (H, W, 3) image against ``model`` unrolled for ``glances`` (``run_attacks`` of
    one image). The drift keeps the iterates of the first restart (until it succeeds when
    ``cfg.early_stop``)."""
    return run_attacks(model, [image], [label], [glances], cfg, seed, progress)[0]


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
