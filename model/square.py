r"""Square Attack (Andriushchenko et al., ECCV 2020, arXiv:1912.00049): a score-based black-box
attack in L-inf and L2, batched, against any glance count. It reads the model's logits only (no
gradients: everything runs under ``torch.no_grad``), so it checks whether a defence that holds
against PGD only hides its gradients.

Each *query* is one forward pass of the examples not yet fooled. With :math:`f(x)` the logits,
:math:`y` the label and :math:`t` the target, the loss to *minimise* is

- untargeted: the margin :math:`L(x) = f_y(x) - \max_{k \ne y} f_k(x)` (the paper's);
- targeted: the cross-entropy of the target, :math:`L(x) = -\log \mathrm{softmax}(f(x))_t`
  (the paper's choice for targeted attacks).

Starting point (query 1), with :math:`\Pi` the clip to :math:`[0, 1]`:

- L-inf: vertical stripes, :math:`\hat x = \Pi(x + \epsilon\,\sigma)`, :math:`\sigma \in
  \{-1, 1\}^{c \times 1 \times w}` drawn per example, channel and column;
- L2: a 5 x 5 grid of squares of side :math:`\lfloor h/5 \rfloor`, each a pseudo-Gaussian bump
  :math:`\pm G` per channel, the whole rescaled to :math:`\|\delta\|_2 = \epsilon`, then
  :math:`\Pi`.

Update at iteration :math:`i` (query :math:`i + 2`) for each example not yet fooled, from its best
iterate :math:`\hat x` (perturbation :math:`\delta = \hat x - x`):

- square size: :math:`p_i = p_{\mathrm{init}} / 2^j`, halving at iterations 10, 50, 200, 500,
  1000, 2000, 4000, 6000 and 8000 of a 10,000-query budget (the thresholds scaled to the
  budget asked for), and the side :math:`s = \mathrm{round}(\sqrt{p_i h w})`, clamped to
  :math:`[1, \min(h, w) - 1]` (L-inf) or to :math:`[3, \min(h, w) - 1]` and made odd (L2);
- L-inf: a window :math:`W` of side :math:`s` at a uniform position; :math:`\delta_W \leftarrow
  \epsilon\,\sigma` with :math:`\sigma \in \{-1, 1\}^{c \times 1 \times 1}` redrawn until the
  window changes; candidate :math:`x' = \Pi(x + \delta)`. Every coordinate stays in
  :math:`\{-\epsilon, \epsilon\}` before the clip, so :math:`\|x' - x\|_\infty \le \epsilon`;
- L2: two windows :math:`W_1, W_2` of side :math:`s`; per channel the new
  :math:`\delta_{W_1} = \frac{u}{\|u\|}\sqrt{\max(\epsilon^2 - \|\delta\|^2, 0)/c +
  \|\delta_{W_1 \cup W_2}\|^2}` with :math:`u = \pm G_s + \delta_{W_1} / \|\delta_{W_1}\|`, and
  :math:`\delta_{W_2 \setminus W_1} \leftarrow 0` (mass moved from :math:`W_2` to :math:`W_1`);
  candidate :math:`x' = \Pi(x + \epsilon\,\delta / \|\delta\|_2)`: the projection onto the
  sphere, then the clip, which only shrinks :math:`|\delta_i|`, so :math:`\|x' - x\|_2 \le
  \epsilon`;
- acceptance: :math:`\hat x \leftarrow x'` where :math:`L(x') < L(\hat x)`; an example stops
  (and is no longer queried) once :math:`\hat x` is misclassified (untargeted) or classified as
  the target (targeted).

Random draws come from one ``torch.Generator`` seeded by ``seed``, so a CPU run is reproducible
bit for bit. The window positions and signs are drawn per example (the reference code draws the
L2 windows once per batch, AutoAttack's and torchattacks' port every window and sign once per
batch, and the port does not redraw a window that leaves the image unchanged); the model is
never switched between train and eval and must already be in eval mode.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from .attacks import AttackResult, attack_targets

__all__ = ["SquareConfig", "SquareResult", "square_attack", "square_side", "square_fraction", "square_settings",
           "MAX_QUERIES"]

MAX_QUERIES = 100_000
NORMS = ("linf", "l2")
TARGETS = ("untargeted", "random", "class")
# AutoAttack's (and torchattacks') starting fraction. On 100 test canvases of the shipped default at
# 16/255 and 500 queries it left 0.44 robust accuracy where 0.3 left 0.45, 0.1 0.55 and 0.05 (the
# paper's ImageNet setting) 0.57: the canvases are small, and large squares find more early.
P_INIT = 0.8
_SCHEDULE = (10, 50, 200, 500, 1000, 2000, 4000, 6000, 8000)  # halvings, on a 10,000-query scale
_MAX_REDRAWS = 64


@dataclass(frozen=True)
class SquareConfig:
    """Square Attack settings: ``queries`` is the budget per example (the starting point
    included); ``p_init`` the fraction of the image the first squares cover (None: 0.8, as
    AutoAttack runs it)."""

    norm: str = "linf"
    eps: float = 16 / 255
    queries: int = 1000
    p_init: float | None = None
    target: str = "untargeted"  # "untargeted", "random" (uniform wrong class) or "class"
    target_class: int | None = None  # with target="class"

    def __post_init__(self) -> None:
        if self.norm not in NORMS:
            raise ValueError(f"norm must be one of {NORMS}, got {self.norm!r}")
        top = 1.0 if self.norm == "linf" else 1e3
        if isinstance(self.eps, bool) or not (isinstance(self.eps, (int, float)) and 0 <= self.eps <= top):
            raise ValueError(f"eps must be in [0, 1] for linf (pixel units) or [0, 1000] for l2, got {self.eps!r}")
        if isinstance(self.queries, bool) or not isinstance(self.queries, int) or not 1 <= self.queries <= MAX_QUERIES:
            raise ValueError(f"queries must be an integer in [1, {MAX_QUERIES}], got {self.queries!r}")
        if self.p_init is not None and not (isinstance(self.p_init, (int, float)) and 0 < self.p_init <= 1):
            raise ValueError(f"p_init must be in (0, 1] (or None for the default), got {self.p_init!r}")
        if self.target not in TARGETS:
            raise ValueError(f"target must be one of {TARGETS}, got {self.target!r}")
        if self.target == "class" and (not isinstance(self.target_class, int) or isinstance(self.target_class, bool)
                                       or self.target_class < 0):
            raise ValueError("target='class' needs target_class, a class index >= 0")

    @property
    def p(self) -> float:
        """The starting square fraction."""
        return float(self.p_init) if self.p_init is not None else P_INIT

    @property
    def targeted(self) -> bool:
        return self.target != "untargeted"


@dataclass
class SquareResult(AttackResult):
    """``AttackResult`` (``trace`` keyed (0, query): the best iterate after that many queries,
    query 0 the clean image) plus ``queries`` (B,) the queries each example used and ``loss``
    (B,) the loss at its returned image."""

    queries: torch.Tensor = field(default_factory=lambda: torch.zeros(0, dtype=torch.long))
    loss: torch.Tensor = field(default_factory=lambda: torch.zeros(0))


def square_fraction(p_init: float, iteration: int, queries: int) -> float:
    """The fraction of the image a square covers at ``iteration`` (0-based, after the start)."""
    it = int(iteration / queries * 10_000)
    return p_init / 2 ** sum(it > t for t in _SCHEDULE)


def square_side(fraction: float, h: int, w: int, norm: str) -> int:
    """The square's side in pixels for a fraction of an h x w image."""
    top = min(h, w) - 1
    s = int(round((fraction * h * w) ** 0.5))
    if norm == "linf":
        return max(1, min(s, top))
    s = max(3, s) | 1  # odd, so the bump has a centre
    while s > top:
        s -= 2
    return max(1, s)


def _rectangle_bump(x: int, y: int) -> torch.Tensor:
    """(x, y) nested rectangles weighted 1/(k+1)^2 around the centre, unit L2 norm."""
    delta = torch.zeros(x, y, dtype=torch.float64)
    cx, cy = x // 2, y // 2
    for k in range(max(x // 2 + 1, y // 2 + 1)):
        delta[max(cx - k, 0):cx + k + 1, max(cy - k, 0):cy + k + 1] += 1.0 / (k + 1) ** 2
    return delta / delta.norm()


@functools.lru_cache(maxsize=64)
def _bump(s: int) -> torch.Tensor:
    """(s, s) the paper's square perturbation: a bump on the top half, its negative on the
    bottom half, unit L2 norm (float64 on the CPU; callers cast)."""
    delta = torch.zeros(s, s, dtype=torch.float64)
    delta[: s // 2] = _rectangle_bump(s // 2, s) if s // 2 else 0.0
    delta[s // 2:] = -_rectangle_bump(s - s // 2, s)
    return delta / delta.norm()


def _bumps(n: int, s: int, gen: torch.Generator, like: torch.Tensor) -> torch.Tensor:
    """(n, 1, s, s) bumps, each transposed with probability 1/2."""
    base = _bump(s).to(like.device, like.dtype)
    flip = torch.rand(n, generator=gen, device=gen.device).to(like.device) > 0.5
    return torch.where(flip.view(n, 1, 1), base.T, base).unsqueeze(1)


def _signs(shape: Sequence[int], gen: torch.Generator, like: torch.Tensor) -> torch.Tensor:
    return (torch.randint(0, 2, tuple(shape), generator=gen, device=gen.device) * 2 - 1).to(like.device, like.dtype)


def _windows(n: int, s: int, h: int, w: int, gen: torch.Generator, device: torch.device
             ) -> tuple[torch.Tensor, torch.Tensor]:
    """(n,) top rows and left columns of windows of side s, uniform in [0, h - s) x [0, w - s)."""
    top = torch.randint(0, h - s, (n,), generator=gen, device=gen.device).to(device)
    left = torch.randint(0, w - s, (n,), generator=gen, device=gen.device).to(device)
    return top, left


def _mask(top: torch.Tensor, left: torch.Tensor, s: int, h: int, w: int) -> torch.Tensor:
    """(n, 1, h, w) bool: each example's window."""
    rows = torch.arange(h, device=top.device)
    cols = torch.arange(w, device=top.device)
    inside_r = (rows >= top[:, None]) & (rows < top[:, None] + s)  # (n, h)
    inside_c = (cols >= left[:, None]) & (cols < left[:, None] + s)  # (n, w)
    return (inside_r[:, :, None] & inside_c[:, None, :]).unsqueeze(1)


def _index(top: torch.Tensor, left: torch.Tensor, s: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Advanced indices that read or write each example's s x s window as (n, s, s, C)."""
    offs = torch.arange(s, device=top.device)
    b = torch.arange(top.shape[0], device=top.device)[:, None, None]
    return b, (top[:, None] + offs)[:, :, None], (left[:, None] + offs)[:, None, :]


def _loss(logits: torch.Tensor, aim: torch.Tensor, targeted: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """(per-example loss to minimise, success)."""
    pred = logits.argmax(dim=1)
    if targeted:
        return F.cross_entropy(logits, aim, reduction="none"), pred == aim
    own = logits.gather(1, aim[:, None]).squeeze(1)
    others = logits.scatter(1, aim[:, None], float("-inf")).amax(dim=1)
    return own - others, pred != aim


def _start_linf(x: torch.Tensor, eps: float, gen: torch.Generator) -> torch.Tensor:
    b, c, _, w = x.shape
    return (x + eps * _signs((b, c, 1, w), gen, x)).clamp(0.0, 1.0)


def _start_l2(x: torch.Tensor, eps: float, gen: torch.Generator) -> torch.Tensor:
    b, c, h, w = x.shape
    delta = torch.zeros_like(x)
    s = max(1, min(h, w) // 5)
    rows, cols = h // s, w // s  # a grid of squares, centred
    r0, c0 = (h - rows * s) // 2, (w - cols * s) // 2
    for i in range(rows):
        for j in range(cols):
            r, q = r0 + i * s, c0 + j * s
            delta[:, :, r:r + s, q:q + s] += _bumps(b, s, gen, x) * _signs((b, c, 1, 1), gen, x)
    norms = delta.flatten(1).norm(dim=1).clamp_min(1e-12).view(-1, 1, 1, 1)
    return (x + delta / norms * eps).clamp(0.0, 1.0)


def _propose_linf(xs: torch.Tensor, best: torch.Tensor, eps: float, s: int, gen: torch.Generator) -> torch.Tensor:
    """One candidate per example: a window of the best perturbation set to +-eps per channel,
    redrawn (for the examples where it would not change the image) until it changes."""
    n, c, h, w = xs.shape
    top, left = _windows(n, s, h, w, gen, xs.device)
    inside = _mask(top, left, s, h, w)
    delta = best - xs
    new = torch.empty_like(xs)
    redo = torch.ones(n, dtype=torch.bool, device=xs.device)
    for _ in range(_MAX_REDRAWS):
        k = redo.nonzero().squeeze(1)
        signs = eps * _signs((k.numel(), c, 1, 1), gen, xs)
        new[k] = (xs[k] + torch.where(inside[k], signs, delta[k])).clamp(0.0, 1.0)
        moved = ((new[k] - best[k]).abs() * inside[k]).flatten(1).amax(dim=1) >= 1e-7
        redo[k[moved]] = False
        if not bool(redo.any()):
            break
    return new


def _propose_l2(xs: torch.Tensor, best: torch.Tensor, eps: float, s: int, gen: torch.Generator) -> torch.Tensor:
    """One candidate per example: mass moved from a second window into a new bump in the first,
    the whole rescaled onto the eps sphere, then clipped."""
    n, c, h, w = xs.shape
    delta = best - xs
    top1, left1 = _windows(n, s, h, w, gen, xs.device)
    top2, left2 = _windows(n, s, h, w, gen, xs.device)
    w1 = _index(top1, left1, s)
    in1, in2 = _mask(top1, left1, s, h, w), _mask(top2, left2, s, h, w)
    old1 = delta[w1[0], :, w1[1], w1[2]].permute(0, 3, 1, 2)  # (n, C, s, s)
    norm1 = old1.pow(2).sum(dim=(2, 3), keepdim=True).sqrt()  # (n, C, 1, 1)
    norm_image = delta.flatten(1).norm(dim=1).view(-1, 1, 1, 1)
    norm_both = (delta * (in1 | in2)).pow(2).sum(dim=(2, 3), keepdim=True).sqrt()  # (n, C, 1, 1)
    fresh = _bumps(n, s, gen, xs) * _signs((n, c, 1, 1), gen, xs) + old1 / (1e-10 + norm1)
    room = ((eps ** 2 - norm_image ** 2).clamp_min(0.0) / c + norm_both ** 2).sqrt()
    fresh = fresh / fresh.pow(2).sum(dim=(2, 3), keepdim=True).sqrt().clamp_min(1e-12) * room
    delta = delta.masked_fill(in2, 0.0)
    delta[w1[0], :, w1[1], w1[2]] = fresh.permute(0, 2, 3, 1)
    norms = delta.flatten(1).norm(dim=1).clamp_min(1e-12).view(-1, 1, 1, 1)
    return (xs + delta / norms * eps).clamp(0.0, 1.0)


@torch.no_grad()
def square_attack(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, cfg: SquareConfig, *,
           glances: int | None = None, seed: int | None = 0, targets: torch.Tensor | None = None,
           trace_queries: Sequence[int] = (),
           callback: Callable[[int, int], bool | None] | None = None) -> SquareResult:
    """Square Attack on ``model`` (unrolled for ``glances``) on images (B, 3, H, W) in [0, 1].

    Returns, per example, the first iterate that reaches the goal, or else the one of lowest
    loss, with the queries it used (the starting point counts as one; a fooled example is no
    longer queried). ``seed`` fixes the random draws and random targets; ``targets`` overrides
    the targets. ``trace_queries`` keeps the best iterates after those query counts (0: the
    clean image). ``callback(done, total)`` is called after each query; when it returns True the
    attack stops there and returns what it has (the best iterates so far).
    """
    if model.training:
        raise ValueError("attack the model in eval mode (BatchNorm in inference mode): call "
                         "model.eval() once when loading it, not inside the attack")
    if images.ndim != 4 or labels.shape != images.shape[:1]:
        raise ValueError(f"expected images (B, 3, H, W) and labels (B,), got "
                         f"{tuple(images.shape)} and {tuple(labels.shape)}")
    if min(images.shape[2:]) < 4:
        raise ValueError(f"images must be at least 4 x 4 pixels, got {tuple(images.shape[2:])}")
    x = images.detach()
    labels = labels.to(x.device)
    gen = torch.Generator(device=x.device)
    gen.manual_seed(int(seed) if seed is not None else torch.seed())

    def forward(batch: torch.Tensor) -> torch.Tensor:
        return model(batch, glances=glances).logits  # (B, C)

    aim = attack_targets(cfg, labels, targets, gen, model, lambda: forward(x[:1]).shape[1])

    wanted = {int(q) for q in trace_queries}
    trace: dict[tuple[int, int], torch.Tensor] = {}
    if 0 in wanted:
        trace[(0, 0)] = x.to("cpu", copy=True)
    start = _start_linf if cfg.norm == "linf" else _start_l2
    best = start(x, cfg.eps, gen) if cfg.eps > 0 else x.clone()
    best_loss, done = _loss(forward(best), aim, cfg.targeted)
    used = torch.ones(x.shape[0], dtype=torch.long, device=x.device)
    _, _, h, w = x.shape
    propose = _propose_linf if cfg.norm == "linf" else _propose_l2
    stop = False
    if 1 in wanted:
        trace[(0, 1)] = best.to("cpu", copy=True)
    if callback is not None:
        stop = bool(callback(1, cfg.queries))
    for i in range(cfg.queries - 1):
        idx = (~done).nonzero().squeeze(1)
        if stop or idx.numel() == 0 or cfg.eps == 0:
            break
        s = square_side(square_fraction(cfg.p, i, cfg.queries), h, w, cfg.norm)
        candidate = propose(x[idx], best[idx], cfg.eps, s, gen)
        loss, success = _loss(forward(candidate), aim[idx], cfg.targeted)
        better = loss < best_loss[idx]
        keep = idx[better]
        best[keep] = candidate[better]
        best_loss[keep] = loss[better]
        done[keep] = success[better]
        used[idx] += 1
        if i + 2 in wanted:
            trace[(0, i + 2)] = best.to("cpu", copy=True)
        if callback is not None:
            stop = bool(callback(i + 2, cfg.queries))
    if callback is not None and not stop:
        callback(cfg.queries, cfg.queries)
    return SquareResult(best, done.clone(), aim, trace, queries=used, loss=best_loss)


def square_settings(cfg: SquareConfig, seed: int, glances: int) -> dict:
    """The attack as JSON-able settings, for export metadata and cache keys."""
    return {"attack": "square", **asdict(cfg), "p": cfg.p,
            "eps_255": cfg.eps * 255 if cfg.norm == "linf" else None, "seed": int(seed), "glances": int(glances)}
