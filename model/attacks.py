r"""Projected gradient descent (PGD) in L-inf and L2, batched, against any glance count.

With loss :math:`\ell` the per-example cross-entropy, :math:`s = +1` untargeted (ascend the loss
of the true label) and :math:`s = -1` targeted (descend the loss of the target):

- L-inf: :math:`x_{t+1} = \Pi(x_t + s\,\alpha\,\mathrm{sign}(\nabla_x \ell))`,
  :math:`\Pi` clips to :math:`[x-\epsilon, x+\epsilon] \cap [0, 1]`;
- L2: :math:`x_{t+1} = \Pi(x_t + s\,\alpha\,\nabla_x\ell / \|\nabla_x\ell\|_2)`, :math:`\Pi`
  rescales :math:`\delta` to :math:`\|\delta\|_2 \le \epsilon` then clips to :math:`[0, 1]`
  (clipping only shrinks :math:`|\delta_i|`, so the result stays in the ball).

FGSM is the one-step case. Gradients are taken w.r.t. the input only (``torch.autograd.grad``),
so parameters never accumulate gradients; the model is never switched between train and eval
and no hooks are added, so one model can serve several sessions at once. The model must already
be in eval mode (BatchNorm in inference mode), which also makes examples independent.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["AttackConfig", "AttackResult", "pgd", "random_targets", "attack_targets", "attack_settings", "MAX_STEPS",
           "MAX_RESTARTS"]

MAX_STEPS = 1000
MAX_RESTARTS = 20
NORMS = ("linf", "l2")
TARGETS = ("untargeted", "random", "class")


@dataclass(frozen=True)
class AttackConfig:
    """PGD settings. ``step_size`` None means max(1/255, eps / steps), the paper's protocol."""

    norm: str = "linf"
    eps: float = 8 / 255
    steps: int = 20
    step_size: float | None = None
    target: str = "random"  # "untargeted", "random" (uniform wrong class) or "class"
    target_class: int | None = None  # with target="class"
    random_start: bool = True
    restarts: int = 1
    early_stop: bool = True
    select: str = "best"  # "best" iterate per example, or the "last" one (as captum returns)

    def __post_init__(self) -> None:
        if self.norm not in NORMS:
            raise ValueError(f"norm must be one of {NORMS}, got {self.norm!r}")
        if not (isinstance(self.eps, (int, float)) and 0 <= self.eps <= (1.0 if self.norm == "linf" else 1e3)):
            raise ValueError(f"eps must be in [0, 1] for linf (pixel units) or [0, 1000] for l2, got {self.eps!r}")
        if not isinstance(self.steps, int) or not 0 <= self.steps <= MAX_STEPS:
            raise ValueError(f"steps must be an integer in [0, {MAX_STEPS}], got {self.steps!r}")
        if self.step_size is not None and not self.step_size > 0:
            raise ValueError(f"step_size must be > 0 (or None for the default), got {self.step_size!r}")
        if self.target not in TARGETS:
            raise ValueError(f"target must be one of {TARGETS}, got {self.target!r}")
        if self.target == "class" and (not isinstance(self.target_class, int) or self.target_class < 0):
            raise ValueError("target='class' needs target_class, a class index >= 0")
        if not isinstance(self.restarts, int) or not 1 <= self.restarts <= MAX_RESTARTS:
            raise ValueError(f"restarts must be an integer in [1, {MAX_RESTARTS}], got {self.restarts!r}")
        if self.select not in ("best", "last"):
            raise ValueError(f"select must be 'best' or 'last', got {self.select!r}")
        if self.select == "last" and self.restarts != 1:
            raise ValueError("select='last' needs restarts=1 (which restart's last iterate?)")

    @property
    def alpha(self) -> float:
        if self.step_size is not None:
            return float(self.step_size)
        return max(1 / 255, self.eps / max(self.steps, 1))

    @property
    def targeted(self) -> bool:
        return self.target != "untargeted"


@dataclass
class AttackResult:
    """``images`` (B, 3, H, W) adversarial; ``success`` (B,) bool; ``targets`` (B,) the class
    aimed at (the true label when untargeted); ``trace`` maps (restart, step) to the iterate
    (B, 3, H, W) on CPU for the steps asked for (step 0 is the starting point); ``moved`` (B,) the
    steps each example moved for in the first restart (fewer than ``cfg.steps`` when it stopped at
    success); ``finished`` (B,) False for the examples an interrupted run had not finished;
    ``best_at`` maps a step count k to (images, success) on CPU as PGD-k with the same settings
    would return them."""

    images: torch.Tensor
    success: torch.Tensor
    targets: torch.Tensor
    trace: dict[tuple[int, int], torch.Tensor] = field(default_factory=dict)
    moved: torch.Tensor | None = None
    finished: torch.Tensor | None = None
    best_at: dict[int, tuple[torch.Tensor, torch.Tensor]] = field(default_factory=dict)


def random_targets(labels: torch.Tensor, num_classes: int, generator: torch.Generator | None = None
                   ) -> torch.Tensor:
    """A class drawn uniformly from the wrong ones, per example."""
    if not isinstance(num_classes, int) or num_classes < 2:
        raise ValueError(f"num_classes must be an integer >= 2 (there must be a wrong class), got {num_classes!r}")
    offset = torch.randint(1, num_classes, labels.shape, generator=generator,
                           device=labels.device if generator is None else generator.device)
    return (labels + offset.to(labels.device)) % num_classes


def attack_targets(cfg: Any, labels: torch.Tensor, targets: torch.Tensor | None, gen: torch.Generator,
                   model: nn.Module, classes: Callable[[], int]) -> torch.Tensor:
    """The class each example is aimed at under ``cfg.target`` (any attack's settings with
    ``target`` and ``target_class``): ``targets`` when given, the label untargeted, the chosen
    class, or a random wrong class from ``gen``. ``classes()`` counts the classes of a model
    without our config, and is called only when needed."""
    if targets is not None:
        return targets.to(labels.device)
    if cfg.target == "untargeted":
        return labels
    num_classes = getattr(getattr(model, "config", None), "num_classes", None)
    if num_classes is None:
        num_classes = classes()
    if cfg.target == "class":
        if cfg.target_class >= num_classes:
            raise ValueError(f"target_class must be < {num_classes}, got {cfg.target_class}")
        return torch.full_like(labels, cfg.target_class)
    return random_targets(labels, num_classes, gen).to(labels.device)


def _project(delta: torch.Tensor, x: torch.Tensor, cfg: AttackConfig, eps: torch.Tensor | None = None
             ) -> torch.Tensor:
    """``delta`` back into the ball (``eps``: per-image L-inf radii (B, 1, 1, 1), else cfg.eps)
    and the image into [0, 1]."""
    if cfg.norm == "linf":
        delta = delta.clamp(-cfg.eps, cfg.eps) if eps is None else torch.maximum(torch.minimum(delta, eps), -eps)
    else:
        norms = delta.flatten(1).norm(dim=1).clamp_min(1e-12).view(-1, 1, 1, 1)
        delta = delta * (cfg.eps / norms).clamp(max=1.0)
    return (x + delta).clamp(0.0, 1.0) - x


def _random_start(x: torch.Tensor, cfg: AttackConfig, gens: Sequence[torch.Generator],
                  eps: torch.Tensor | None = None) -> torch.Tensor:
    """One draw for the whole batch from one generator, or one draw per example from its own."""
    if len(gens) == 1:
        return _random_start_from(x, cfg, gens[0], eps)
    return torch.cat([_random_start_from(x[i:i + 1], cfg, g, None if eps is None else eps[i:i + 1])
                      for i, g in enumerate(gens)])


def _random_start_from(x: torch.Tensor, cfg: AttackConfig, gen: torch.Generator,
                       eps: torch.Tensor | None = None) -> torch.Tensor:
    if cfg.norm == "linf":
        unit = torch.rand(x.shape, generator=gen, device=gen.device) * 2 - 1
        delta = unit * (cfg.eps if eps is None else eps.to(unit.device))
    else:
        direction = torch.randn(x.shape, generator=gen, device=gen.device)
        direction = direction / direction.flatten(1).norm(dim=1).clamp_min(1e-12).view(-1, 1, 1, 1)
        radius = torch.rand(x.shape[0], generator=gen, device=gen.device) ** (1.0 / x[0].numel())
        delta = direction * (radius * cfg.eps).view(-1, 1, 1, 1)
    return _project(delta.to(x.device, x.dtype), x, cfg, eps)


def _step(grad: torch.Tensor, cfg: AttackConfig, alpha: torch.Tensor | None = None) -> torch.Tensor:
    """The ascent (descent, targeted) step; ``alpha`` per-image L-inf step sizes (B, 1, 1, 1)."""
    sign = -1.0 if cfg.targeted else 1.0
    if cfg.norm == "linf":
        return sign * (cfg.alpha if alpha is None else alpha) * grad.sign()
    norms = grad.flatten(1).norm(dim=1).clamp_min(1e-12).view(-1, 1, 1, 1)
    return sign * cfg.alpha * grad / norms


def _outcome(model: nn.Module, x: torch.Tensor, labels: torch.Tensor, cfg: AttackConfig,
             glances: int | torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
    """(per-example loss, success) at ``x``; with grad when x requires it. With per-example
    counts (B,) the model is unrolled once to the largest and each example read at its own
    count: glance t never sees later glances, so this equals unrolling each to its count."""
    if isinstance(glances, torch.Tensor):
        out = model(x, glances=int(glances.max()))
        logits = out.step_logits[torch.arange(x.shape[0], device=x.device), glances - 1]  # (B, C)
    else:
        logits = model(x, glances=glances).logits  # (B, C)
    loss = F.cross_entropy(logits, labels, reduction="none")  # (B,)
    pred = logits.argmax(dim=1)
    success = pred == labels if cfg.targeted else pred != labels
    return loss, success


def _counts(model: nn.Module, glances: int | Sequence[int] | torch.Tensor | None, batch: int,
            device: torch.device) -> int | torch.Tensor | None:
    """``glances`` as the model unrolls it: one count for all, or (B,) per-example counts."""
    if glances is None or isinstance(glances, int):
        return glances
    counts = [int(g) for g in (glances.tolist() if isinstance(glances, torch.Tensor) else glances)]
    if len(counts) != batch:
        raise ValueError(f"per-example glances need one count per image: {len(counts)} for {batch} images")
    fit = getattr(model, "glances_for", None)
    counts = [fit(g) for g in counts] if fit is not None else counts
    if min(counts) < 1:
        raise ValueError(f"glance counts must be >= 1, got {min(counts)}")
    if len(set(counts)) == 1:
        return counts[0]
    return torch.tensor(counts, device=device)


def pgd(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, cfg: AttackConfig, *,
        glances: int | Sequence[int] | torch.Tensor | None = None, seed: int | None = 0,
        targets: torch.Tensor | None = None, trace_steps: Sequence[int] = (),
        callback: Callable[[int, int], None] | None = None, example_seeds: Sequence[int] | None = None,
        keep: Callable[[AttackResult], None] | None = None, best_at: Sequence[int] = (),
        eps: Sequence[float] | torch.Tensor | None = None) -> AttackResult:
    """Attack ``model`` (unrolled for ``glances``: one count, or one per image) on images
    (B, 3, H, W) in [0, 1].

    With ``select="best"`` restarts keep, per example, the first successful iterate, or else the
    strongest one (highest loss untargeted, lowest targeted); ``select="last"`` returns the final
    iterate (where an early-stopped example froze, or after the last step). With ``early_stop`` an example stops
    moving once it
    succeeds and its forward/backward passes are skipped. ``seed`` fixes the random start and
    random targets, so a CPU run is reproducible bit for bit; ``targets`` overrides the targets.
    ``example_seeds`` draws each image's random start from its own seed instead, so an image
    starts where it would alone, whatever else is in the batch. ``callback(done, total)`` is
    called after each step; when it raises (a user stopped the run), ``keep`` is first handed
    what is done: the examples finished so far, their iterates traced so far. ``best_at`` (one
    restart, ``select="best"``) keeps, for each step count k given, the result PGD-k would
    return: the run's first k steps are PGD-k's when the step size is the same (an explicit
    ``step_size``, or the default one where max(1/255, eps/k) is 1/255 for each k), so one long
    run reads a curve of robust accuracy over attack steps. ``eps`` (L-inf only) gives each image
    its own budget in pixel units instead of ``cfg.eps``, with its own step (``cfg.step_size``, or
    max(1/255, eps_i/steps)): image i is attacked as it would be alone with ``eps=eps_i``, so one
    batch sweeps an image over budgets.
    """
    if model.training:
        raise ValueError("attack the model in eval mode (BatchNorm in inference mode): call "
                         "model.eval() once when loading it, not inside the attack")
    if images.ndim != 4 or labels.shape != images.shape[:1]:
        raise ValueError(f"expected images (B, 3, H, W) and labels (B,), got "
                         f"{tuple(images.shape)} and {tuple(labels.shape)}")
    snapshots = sorted({int(k) for k in best_at})
    if snapshots and (cfg.restarts != 1 or cfg.select != "best" or not 0 <= snapshots[0] <= snapshots[-1]
                      <= cfg.steps):
        raise ValueError(f"best_at needs restarts=1, select='best' and step counts in [0, {cfg.steps}], "
                         f"got {snapshots} with restarts={cfg.restarts}, select={cfg.select!r}")
    x = images.detach()
    labels = labels.to(x.device)
    glances = _counts(model, glances, x.shape[0], x.device)
    gen = torch.Generator(device=x.device)
    gen.manual_seed(int(seed) if seed is not None else torch.seed())
    if example_seeds is not None and len(example_seeds) != x.shape[0]:
        raise ValueError(f"example_seeds needs one seed per image: {len(example_seeds)} for {x.shape[0]} images")
    starts = [gen] if example_seeds is None else [
        torch.Generator(device=x.device).manual_seed(int(s)) for s in example_seeds]
    def classes() -> int:  # a model without our config is asked
        with torch.no_grad():
            probe = int(glances.max()) if isinstance(glances, torch.Tensor) else glances
            return model(x[:1], glances=probe).logits.shape[1]

    aim = attack_targets(cfg, labels, targets, gen, model, classes)

    radius, alpha = _budgets(cfg, eps, x)
    ball = cfg.eps if radius is None else radius
    lo, hi = (x - ball).clamp_min(0.0), (x + ball).clamp_max(1.0)  # the L-inf box
    best = x.clone()
    best_loss = torch.full((x.shape[0],), float("inf") if cfg.targeted else -float("inf"),
                           device=x.device)
    done = torch.zeros(x.shape[0], dtype=torch.bool, device=x.device)
    moved = torch.full((x.shape[0],), cfg.steps, dtype=torch.long)
    trace: dict[tuple[int, int], torch.Tensor] = {}
    kept: dict[int, tuple[torch.Tensor, torch.Tensor]] = dict.fromkeys(snapshots)  # filled as the run passes
    wanted = set(int(s) for s in trace_steps)
    total = cfg.steps * cfg.restarts
    try:
        _pgd_loop(model, x, aim, cfg, glances, starts, lo, hi, best, best_loss, done, moved, trace, wanted, callback,
                  kept, radius, alpha)
    except BaseException:
        if keep is not None:
            keep(AttackResult(best.detach(), done.clone(), aim, trace, moved, done.clone()))
        raise
    if callback is not None:
        callback(total, total)
    for k in snapshots:  # steps after every example succeeded: nothing moved since
        if kept[k] is None:
            kept[k] = (best.detach().to("cpu", copy=True), done.to("cpu", copy=True))
    return AttackResult(best.detach(), done.clone(), aim, trace, moved, torch.ones_like(done), kept)


def _budgets(cfg: AttackConfig, eps: Sequence[float] | torch.Tensor | None, x: torch.Tensor
             ) -> tuple[torch.Tensor | None, torch.Tensor | None]:
    """Per-image L-inf radii and step sizes (B, 1, 1, 1) from ``eps``, or (None, None)."""
    if eps is None:
        return None, None
    values = [float(e) for e in (eps.tolist() if isinstance(eps, torch.Tensor) else eps)]
    if cfg.norm != "linf":
        raise ValueError(f"per-image budgets are L-inf radii; this attack is {cfg.norm}")
    if len(values) != x.shape[0] or any(not 0 <= e <= 1 for e in values):
        raise ValueError(f"eps needs one budget in [0, 1] (pixel units) per image: got {values} for "
                         f"{x.shape[0]} images")
    radius = torch.tensor(values, dtype=x.dtype, device=x.device).view(-1, 1, 1, 1)
    steps = [cfg.step_size if cfg.step_size is not None else max(1 / 255, e / max(cfg.steps, 1)) for e in values]
    return radius, torch.tensor(steps, dtype=x.dtype, device=x.device).view(-1, 1, 1, 1)


def _pgd_loop(model: nn.Module, x: torch.Tensor, aim: torch.Tensor, cfg: AttackConfig,
              glances: int | torch.Tensor | None, starts: Sequence[torch.Generator], lo: torch.Tensor,
              hi: torch.Tensor, best: torch.Tensor, best_loss: torch.Tensor, done: torch.Tensor,
              moved: torch.Tensor, trace: dict[tuple[int, int], torch.Tensor], wanted: set[int],
              callback: Callable[[int, int], None] | None,
              kept: dict[int, tuple[torch.Tensor, torch.Tensor] | None],
              radius: torch.Tensor | None, alpha: torch.Tensor | None) -> None:
    """The restarts and steps of ``pgd``, updating ``best``, ``best_loss``, ``done``, ``moved``,
    ``trace`` and ``kept`` (the result so far at each of its step counts) in place (so an
    interrupted run leaves what it had done there). ``radius`` and ``alpha``: per-image L-inf
    budgets and steps (B, 1, 1, 1), or None for the config's."""
    total = cfg.steps * cfg.restarts
    for restart in range(cfg.restarts):
        delta = _random_start(x, cfg, starts, radius) if cfg.random_start else torch.zeros_like(x)
        adv = (x + delta).detach()
        active = ~done  # examples this restart still works on
        for step in range(cfg.steps + 1):
            if step in wanted:
                trace[(restart, step)] = adv.detach().to("cpu", copy=True)
            idx = active.nonzero().squeeze(1)
            if idx.numel() == 0:
                break
            everyone = idx.numel() == x.shape[0]  # no gathers/scatters while all are attacked
            last = step == cfg.steps
            xa = (adv if everyone else adv[idx]).detach().requires_grad_(not last)
            counts = glances[idx] if isinstance(glances, torch.Tensor) and not everyone else glances
            with torch.set_grad_enabled(not last):
                loss, success = _outcome(model, xa, aim[idx], cfg, counts)
            if cfg.select == "best":
                improved = loss > best_loss[idx] if not cfg.targeted else loss < best_loss[idx]
                better = (success | improved) & ~done[idx]
                chosen = idx[better]
                best[chosen] = xa.detach()[better]
                best_loss[chosen] = loss.detach()[better]
                done[idx[success]] = True
                if step in kept:
                    kept[step] = (best.detach().to("cpu", copy=True), done.to("cpu", copy=True))
            elif last:
                done[idx] = success  # the outcome of the final iterate
            elif cfg.early_stop:
                done[idx[success]] = True  # frozen at a successful iterate
            if last:
                break
            if cfg.early_stop:
                active[idx[success]] = False
                if restart == 0:
                    moved[idx[success].cpu()] = step
            grad, = torch.autograd.grad(loss.sum(), xa)
            new = xa.detach() + _step(grad, cfg, None if alpha is None else alpha if everyone else alpha[idx])
            if cfg.norm == "linf":  # one clamp onto the ball intersected with [0, 1]
                new = torch.maximum(torch.minimum(new, hi if everyone else hi[idx]), lo if everyone else lo[idx])
            else:
                xs = x if everyone else x[idx]
                new = xs + _project(new - xs, xs, cfg)
            moving = active[idx]
            if everyone and bool(moving.all()):
                adv = new
            else:
                adv[idx[moving]] = new[moving]
            if callback is not None:
                callback(restart * cfg.steps + step + 1, total)
        if cfg.select == "last":
            best.copy_(adv.detach())
        if bool(done.all()):
            break


def attack_settings(cfg: AttackConfig, seed: int, glances: int) -> dict:
    """The attack as JSON-able settings, for export metadata and cache keys."""
    return {**asdict(cfg), "alpha": cfg.alpha, "eps_255": cfg.eps * 255 if cfg.norm == "linf" else None,
            "seed": int(seed), "glances": int(glances)}
