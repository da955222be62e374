"""Per-canvas outcomes of attacks: which canvases a (model, glance count) still classifies
correctly, canvas by canvas, so that two models or counts are compared on the same canvases with
the same attack seeds (``programs.evaluate.paired``), and one long PGD run is read at several
step counts (a curve of robust accuracy over attack steps).

Batch b of a run uses the attack seed ``eval_attack_seed(seed, b)`` as the grid does, so at the
same batch size a PGD-k outcome here is the grid's PGD-k on the same canvases, bit for bit.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from model.attacks import AttackConfig, pgd
from model.data import DEFAULT_TASK, make_batch
from model.data.splits import CanvasSet
from model.inference import LogitsOnly
from programs.distributed import gather_array, shard
from programs.seeds import eval_attack_seed

from .measure import progress_bar

__all__ = ["Outcome", "pgd_outcomes", "apgdt_outcomes", "step_groups", "to_bits", "from_bits"]


def to_bits(correct: Sequence[bool] | np.ndarray) -> str:
    """Per-canvas correctness as the "0"/"1" string a curve's results.json keeps."""
    return "".join("1" if c else "0" for c in correct)


def from_bits(bits: str) -> np.ndarray:
    """The (n,) bool correctness back from a stored "0"/"1" string."""
    return np.frombuffer(bits.encode(), np.uint8) == ord("1")


@dataclass(frozen=True)
class Outcome:
    """One attack's per-canvas result: ``correct`` (n,) bool (the model's class after the attack
    is the true one), ``success`` (n,) bool (the attack reached its goal), and the seconds its
    run took (shared by every step count read from one run)."""

    correct: np.ndarray
    success: np.ndarray
    seconds: float

    @property
    def acc(self) -> float:
        return float(self.correct.mean())


def step_groups(eps_255: float, steps: Sequence[int], step_size_255: float | None) -> list[list[int]]:
    """Step counts that one PGD run reads (those with the same step size), longest run last in
    each group; 0 (the random start alone) joins the longest run."""
    if any(not isinstance(k, int) or k < 0 for k in steps) or not steps:
        raise ValueError(f"steps must be integers >= 0, got {list(steps)}")
    groups: dict[float, list[int]] = {}
    for k in sorted(set(steps) - {0}):
        alpha = AttackConfig(eps=eps_255 / 255, steps=k, step_size=None if step_size_255 is None
                             else step_size_255 / 255).alpha
        groups.setdefault(alpha, []).append(k)
    out = sorted(groups.values(), key=lambda g: g[-1])
    if 0 in steps:
        out = out[:-1] + [[0, *out[-1]]] if out else [[0]]
    return out


def _batches(canvases: CanvasSet, n: int, batch_size: int, first: int) -> list[tuple[int, range]]:
    idx = canvases.indices(n, first)
    return shard([idx[s:s + batch_size] for s in range(0, n, batch_size)])


def pgd_outcomes(model: nn.Module, glances: int, canvases: CanvasSet, n: int, eps_255: float,
                 steps: Sequence[int], target: str = "random", step_size_255: float | None = None,
                 batch_size: int = 100, first: int = 0, task: str = DEFAULT_TASK,
                 progress: bool = False) -> dict[int, Outcome]:
    """PGD-k outcomes for every k in ``steps`` on ``n`` canvases of ``canvases`` (from its
    ``first``-th), the model unrolled and attacked at ``glances``. Step counts with the same step
    size are read from one run (``pgd(..., best_at=...)``: PGD-k's result exactly), so a curve up
    to 1,000 steps costs one 1,000-step run; an example stops at its first success, which is
    final."""
    if target not in ("random", "untargeted"):
        raise ValueError(f"target must be 'random' or 'untargeted', got {target!r}")
    device = next(model.parameters()).device
    mine = _batches(canvases, n, batch_size, first)
    out: dict[int, Outcome] = {}
    with progress_bar(len(mine) * len(step_groups(eps_255, steps, step_size_255)), "pgd", progress) as bar:
        for group in step_groups(eps_255, steps, step_size_255):
            cfg = AttackConfig(eps=eps_255 / 255, steps=group[-1], target=target,
                               step_size=None if step_size_255 is None else step_size_255 / 255)
            correct: dict[int, list[np.ndarray]] = {k: [] for k in group}
            success: dict[int, list[np.ndarray]] = {k: [] for k in group}
            t0 = time.time()
            for b, idx in mine:
                x, y, _ = make_batch("test", idx, seed=canvases.seed, task=task)
                x, y = x.to(device), y.to(device)
                res = pgd(model, x, y, cfg, glances=glances, seed=eval_attack_seed(canvases.seed, b), best_at=group)
                for k in group:
                    images, ok = res.best_at[k]
                    with torch.no_grad():
                        pred = model(images.to(device), glances=glances).logits.argmax(1)
                    correct[k].append((pred == y).cpu().numpy())
                    success[k].append(ok.numpy())
                bar.update(1)
            seconds = round(time.time() - t0, 1)
            for k in group:
                out[k] = Outcome(gather_array(correct[k]).astype(bool), gather_array(success[k]).astype(bool),
                                 seconds)
    return {k: out[k] for k in sorted(out)}


def apgdt_outcomes(model: nn.Module, glances: int, canvases: CanvasSet, n: int, eps_255: float,
                   steps: int = 100, restarts: int = 1, target_classes: int = 9, batch_size: int = 100,
                   first: int = 0, task: str = DEFAULT_TASK, progress: bool = False) -> Outcome:
    """Outcomes under torchattacks' APGD-T (Croce & Hein 2020: the targeted DLR loss towards each
    of the ``target_classes`` classes the model ranks highest after the true one, ``restarts``
    random starts each, ``steps`` steps of adaptive size), an independent implementation aimed at
    any misclassification; ``success`` is "misclassified". Needs ``pip install --no-deps
    torchattacks`` (and scipy)."""
    try:
        import torchattacks
    except ModuleNotFoundError as err:
        raise SystemExit("APGD-T needs torchattacks: pip install --no-deps torchattacks (and scipy)") from err
    num_classes = model.config.num_classes
    if not (isinstance(target_classes, int) and 1 <= target_classes <= num_classes - 1):
        raise ValueError(f"target_classes must be an integer in [1, {num_classes - 1}], got {target_classes!r}")
    device = next(model.parameters()).device
    mine = _batches(canvases, n, batch_size, first)
    correct, t0 = [], time.time()
    with progress_bar(len(mine), "apgd-t", progress) as bar:
        for b, idx in mine:
            x, y, _ = make_batch("test", idx, seed=canvases.seed, task=task)
            x, y = x.to(device), y.to(device)
            # torchattacks puts its model back in the mode it found it in: an eval-mode wrapper
            # keeps the shared model in eval mode after the attack
            attack = torchattacks.APGDT(LogitsOnly(model, glances).eval(), norm="Linf", eps=eps_255 / 255, steps=steps,
                                        n_restarts=restarts, seed=eval_attack_seed(canvases.seed, b),
                                        n_classes=target_classes + 1)  # its targets: ranks 2..n_classes
            adv = attack(x, y)
            if not (adv - x).abs().max() <= eps_255 / 255 + 1e-6:
                raise RuntimeError("APGD-T left the epsilon ball")
            with torch.no_grad():
                correct.append((model(adv, glances=glances).logits.argmax(1) == y).cpu().numpy())
            bar.update(1)
    ok = gather_array(correct).astype(bool)
    return Outcome(ok, ~ok, round(time.time() - t0, 1))
