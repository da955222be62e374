r"""One image attacked at several L-inf budgets in one batch: how a model's answer and attention
give way as epsilon grows.

The batch holds one copy of the image per budget :math:`\epsilon_k`; PGD runs on all copies at
once, each copy with its own ball :math:`[x-\epsilon_k, x+\epsilon_k] \cap [0, 1]` and its own
step :math:`\alpha_k` (the attack's step size, or the protocol's :math:`\max(1/255,
\epsilon_k/T)`). Every copy starts from the same random direction scaled to its budget and aims
at the same class, so copy :math:`k` is the attack ``model.attacks.pgd`` makes alone at
:math:`\epsilon_k` with the same seed (equal within float rounding: a batch may sum in another
order). Gradients w.r.t. the input only; the model is only read.
"""

from __future__ import annotations

import csv
import io
import math
import re
import time
from collections.abc import Callable, Sequence

import numpy as np
import torch
from torch import nn

from model.attacks import AttackConfig, AttackResult, pgd
from model.checks import check_glances, check_image_array
from model.inference import model_device
from model.metrics import mean_box_mass
from model.records import Box, StrengthSweep

from .runs import image_target

__all__ = ["StrengthSweep", "strength_sweep", "budget_pgd", "parse_budgets", "sweep_target", "sweep_csv",
           "DEFAULT_BUDGETS", "MAX_BUDGETS", "MAX_BUDGET_255"]

DEFAULT_BUDGETS = (0.0, 2.0, 4.0, 8.0, 16.0, 32.0)  # /255
MAX_BUDGETS = 12  # copies in one batch
MAX_BUDGET_255 = 255.0  # the whole pixel range


def parse_budgets(text: str) -> tuple[float, ...]:
    """The budgets (/255) written as "0, 2, 4, 8": 1 to ``MAX_BUDGETS`` numbers from 0 to 255,
    returned sorted without repeats; ``ValueError`` says what is wrong and what is allowed."""
    allowed = (f"1 to {MAX_BUDGETS} numbers from 0 to {MAX_BUDGET_255:g} (in /255), separated by commas, "
               f"e.g. {', '.join(f'{b:g}' for b in DEFAULT_BUDGETS)}")
    parts = [p for p in re.split(r"[,;\s]+", str(text).strip()) if p]
    if not parts:
        raise ValueError(f"no budget given; write {allowed}")
    values = []
    for part in parts:
        try:
            value = float(part)
        except ValueError:
            raise ValueError(f"'{part}' is not a number; write {allowed}") from None
        if not math.isfinite(value) or not 0 <= value <= MAX_BUDGET_255:
            raise ValueError(f"{part} is outside 0 to {MAX_BUDGET_255:g}; write {allowed}")
        values.append(value)
    budgets = tuple(sorted(set(values)))
    if len(budgets) > MAX_BUDGETS:
        raise ValueError(f"{len(budgets)} budgets is too many for one batch; write {allowed}")
    return budgets


def sweep_target(cfg: AttackConfig, image: np.ndarray, label: int, num_classes: int, seed: int) -> int:
    """The class every copy aims at: the image's random wrong class (``compute.runs.image_target``,
    the page's own attack's), the chosen class, or the label itself when untargeted."""
    if cfg.target == "random":
        return image_target(image, label, num_classes, seed)
    if cfg.target == "class":
        return int(cfg.target_class)  # type: ignore[arg-type]
    return int(label)


def budget_pgd(model: nn.Module, image: torch.Tensor, label: int, target: int, cfg: AttackConfig,
               budgets: Sequence[float], *, glances: int, seed: int = 0,
               callback: Callable[[int, int], None] | None = None) -> AttackResult:
    """L-inf PGD on (1, 3, H, W) ``image`` in [0, 1], one copy per budget in ``budgets`` (pixel
    units), each within its own ball; ``cfg`` gives the steps, step size, restarts, random start,
    early stop and whether ``target`` is aimed at (else ``label`` is moved away from). The rules of
    ``model.attacks.pgd`` with ``select="best"`` (it runs the copies, each seeded as alone). A zero
    budget cannot move: its copy is the image itself and costs nothing."""
    if model.training:
        raise ValueError("attack the model in eval mode (BatchNorm in inference mode)")
    if cfg.norm != "linf" or cfg.select != "best":
        raise ValueError("a budget sweep is an L-inf attack keeping each copy's best iterate "
                         f"(norm='linf', select='best'), got norm={cfg.norm!r}, select={cfg.select!r}")
    if image.ndim != 4 or image.shape[0] != 1:
        raise ValueError(f"expected one image (1, 3, H, W), got {tuple(image.shape)}")
    if not budgets or any(not 0 <= b <= 1 for b in budgets):
        raise ValueError(f"budgets must be 1 or more values in [0, 1] (pixel units), got {list(budgets)}")
    e = len(budgets)
    x = image.detach().expand(e, -1, -1, -1).contiguous()  # (E, 3, H, W)
    aim = torch.full((e,), int(target if cfg.targeted else label), dtype=torch.long, device=x.device)
    images, success = x.clone(), torch.zeros(e, dtype=torch.bool, device=x.device)
    movable = [i for i, b in enumerate(budgets) if b > 0]
    if movable:
        result = pgd(model, x[movable], torch.full((len(movable),), int(label), device=x.device), cfg,
                     glances=glances, targets=aim[movable] if cfg.targeted else None,
                     example_seeds=[int(seed)] * len(movable), eps=[budgets[i] for i in movable], callback=callback)
        images[movable], success[movable] = result.images, result.success
    elif callback is not None:
        callback(cfg.steps * cfg.restarts, cfg.steps * cfg.restarts)
    return AttackResult(images, success, aim)


def strength_sweep(model: nn.Module, name: str, image: np.ndarray, label: int, cfg: AttackConfig,
                   budgets_255: Sequence[float], glances: int, seed: int = 0, box: Box | None = None,
                   progress: Callable[[float], None] | None = None) -> StrengthSweep:
    """The attack ``cfg`` (its epsilon and norm replaced by each L-inf budget in ``budgets_255``)
    on ``image`` (H, W, 3) against ``model`` at ``glances`` (or its longest unroll), one batch; each
    copy read at that count. ``label`` is the true class (or the clean prediction)."""
    check_image_array(image)
    budgets = tuple(float(b) for b in budgets_255)
    if not 1 <= len(budgets) <= MAX_BUDGETS or any(not 0 <= b <= MAX_BUDGET_255 for b in budgets):
        raise ValueError(f"a sweep takes 1 to {MAX_BUDGETS} budgets from 0 to {MAX_BUDGET_255:g} /255, got {budgets}")
    num_classes = model.config.num_classes
    if not isinstance(label, (int, np.integer)) or not 0 <= label < num_classes:
        raise ValueError(f"label must be a class index in [0, {num_classes}), got {label!r}")
    if cfg.target == "class" and not 0 <= cfg.target_class < num_classes:  # type: ignore[operator]
        raise ValueError(f"target_class must be in [0, {num_classes}), got {cfg.target_class}")
    if cfg.target == "class" and cfg.target_class == label:
        raise ValueError(f"the target class {label} is the class being attacked; choose another one")
    n = model.glances_for(check_glances(glances))
    t0 = time.perf_counter()
    device = model_device(model)
    x = torch.from_numpy(np.ascontiguousarray(image, dtype=np.float32)).permute(2, 0, 1)[None].to(device)
    target = sweep_target(cfg, image, int(label), num_classes, seed)
    callback = None if progress is None else (lambda done, total: progress(done / max(total, 1)))
    result = budget_pgd(model, x, int(label), target, cfg, [b / 255 for b in budgets], glances=n, seed=seed,
                        callback=callback)
    with torch.no_grad():
        out = model(result.images, glances=n)
    attention = out.attention.cpu().numpy()  # (E, N, heads, h, w)
    probs = out.logits.softmax(-1).cpu().numpy()  # (E, C)
    predicted = probs.argmax(axis=1)
    success = predicted == target if cfg.targeted else predicted != label
    images = result.images.permute(0, 2, 3, 1).cpu().numpy()  # (E, H, W, 3)
    size = image.shape[:2]
    mass = None if box is None else mean_box_mass(attention, np.asarray([box] * len(budgets)), size)
    linf = np.abs(images.astype(np.float64) - image[None].astype(np.float64)).max(axis=(1, 2, 3)) * 255
    return StrengthSweep(name, budgets, int(label), int(target), cfg.targeted, bool(model.has_attention), n,
                         images, success, probs, attention[:, -1], mass, linf, time.perf_counter() - t0)


def sweep_csv(sweeps: Sequence[StrengthSweep], class_names: Sequence[str]) -> bytes:
    """One row per model and budget (UTF-8): the outcome, the probabilities, the attention mass
    in the box (empty without a box or without attention), the largest pixel change."""
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(["model", "eps_255", "glances", "label", "target", "success", "prediction", "p_true",
                     "p_target", "mass_in_box", "linf_255"])
    for s in sweeps:
        target_probs = s.target_probs
        for k, eps in enumerate(s.budgets_255):
            mass = "" if s.mass is None or not s.has_attention else f"{s.mass[k]:.4f}"
            writer.writerow([s.model_name, f"{eps:g}", s.glances, class_names[s.label],
                             class_names[s.target] if s.targeted else "", int(s.success[k]),
                             class_names[int(s.predicted[k])], f"{s.true_probs[k]:.4f}",
                             "" if target_probs is None else f"{target_probs[k]:.4f}", mass, f"{s.linf_255[k]:.3f}"])
    return buf.getvalue().encode("utf-8")
