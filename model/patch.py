r"""An adversarial patch: a square of free pixels pasted on the image and optimised towards a
target class, with no bound on how much those pixels change (Brown et al. 2017, one image).

With :math:`M` the square's mask at place :math:`(x_0, y_0)`, :math:`P` the patch and
:math:`t` the target, the patched image and the update are

.. math:: x' = (1 - M) \odot x + M \odot P, \qquad
          P \leftarrow \mathrm{clip}_{[0, 1]}\big(P - \alpha\,\mathrm{sign}(\nabla_P\,
          \mathrm{CE}(f(x'), t))\big).

A searched place is chosen by a short run of the same update at each place of a grid over the
image, side by side in one batch, keeping the place whose patch reached the lowest loss; the
attack then goes on from that patch. Gradients are taken w.r.t. the patch only; the model is
only read (eval mode), as in ``model.attacks``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["PatchConfig", "PatchResult", "patch_attack", "candidate_places", "MAX_PATCH_STEPS"]

MAX_PATCH_STEPS = 2000
SEARCH_GRID = 4  # places per side tried when the place is searched


@dataclass(frozen=True)
class PatchConfig:
    """A ``size`` x ``size`` patch at ``place`` (x0, y0), or searched when None, optimised for
    ``steps`` signed-gradient steps of ``step_size`` (``search_steps`` of them, at most all, at
    each candidate place when searching), stopping at success when ``early_stop``."""

    size: int = 16
    steps: int = 200
    step_size: float = 4 / 255
    place: tuple[int, int] | None = None
    search_steps: int = 20
    early_stop: bool = True

    def __post_init__(self) -> None:
        if not isinstance(self.size, int) or self.size < 1:
            raise ValueError(f"the patch size must be a whole number of pixels >= 1, got {self.size!r}")
        if not isinstance(self.steps, int) or not 1 <= self.steps <= MAX_PATCH_STEPS:
            raise ValueError(f"patch steps must be an integer in [1, {MAX_PATCH_STEPS}], got {self.steps!r}")
        if not self.step_size > 0:
            raise ValueError(f"the patch step size must be > 0, got {self.step_size!r}")
        if not isinstance(self.search_steps, int) or self.search_steps < 1:
            raise ValueError(f"search_steps must be an integer >= 1, got {self.search_steps!r}")
        if self.place is not None and (len(self.place) != 2 or min(self.place) < 0):
            raise ValueError(f"the place must be (x0, y0) >= 0, got {self.place!r}")

    def check_fits(self, height: int, width: int) -> None:
        """A ValueError saying what is allowed when the patch does not fit an image of this size."""
        if self.size > min(height, width):
            raise ValueError(f"a {self.size} px patch does not fit a {width}x{height} image: "
                             f"the size must be at most {min(height, width)} px")
        if self.place is not None:
            x0, y0 = self.place
            if x0 + self.size > width or y0 + self.size > height:
                raise ValueError(f"a {self.size} px patch at ({x0}, {y0}) leaves the {width}x{height} image: "
                                 f"x0 must be at most {width - self.size} and y0 at most {height - self.size}")


@dataclass
class PatchResult:
    """``images`` (B, 3, H, W) patched; ``patches`` (B, 3, s, s); ``places`` (B, 2) as (x0, y0);
    ``success`` (B,) the target reached; ``targets`` (B,); ``steps`` the steps taken (all of the
    run's when it finished, fewer when it was stopped)."""

    images: torch.Tensor
    patches: torch.Tensor
    places: torch.Tensor
    success: torch.Tensor
    targets: torch.Tensor
    steps: int


def candidate_places(height: int, width: int, size: int, per_side: int = SEARCH_GRID) -> list[tuple[int, int]]:
    """(x0, y0) places of a ``per_side`` x ``per_side`` grid over the image, corners included."""
    xs = sorted({round(i * (width - size) / max(per_side - 1, 1)) for i in range(per_side)})
    ys = sorted({round(i * (height - size) / max(per_side - 1, 1)) for i in range(per_side)})
    return [(x, y) for y in ys for x in xs]


def paste(images: torch.Tensor, patches: torch.Tensor, places: torch.Tensor) -> torch.Tensor:
    """The images with each patch pasted at its place; differentiable w.r.t. the patches."""
    out = images.clone()
    s = patches.shape[-1]
    for i, (x0, y0) in enumerate(places.tolist()):
        out[i, :, y0:y0 + s, x0:x0 + s] = patches[i]
    return out


def _loss(model: nn.Module, x: torch.Tensor, targets: torch.Tensor, glances: int | None
          ) -> tuple[torch.Tensor, torch.Tensor]:
    logits = model(x, glances=glances).logits
    return F.cross_entropy(logits, targets, reduction="none"), logits.argmax(1) == targets


def _optimise(model: nn.Module, images: torch.Tensor, patches: torch.Tensor, places: torch.Tensor,
              targets: torch.Tensor, cfg: PatchConfig, steps: int, glances: int | None, early_stop: bool,
              tick: Callable[[], None]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``steps`` updates of ``patches``, in place (an interrupted run leaves its last patches
    there); returns (patches, final loss, success). Examples that reached the target stop moving
    when ``early_stop``."""
    done = torch.zeros(images.shape[0], dtype=torch.bool, device=images.device)
    loss = torch.zeros(images.shape[0], device=images.device)
    for _ in range(steps):
        p = patches.detach().requires_grad_(True)
        step_loss, success = _loss(model, paste(images, p, places), targets, glances)
        loss = step_loss.detach()
        done |= success
        moving = ~done if early_stop else torch.ones_like(done)
        if not bool(moving.any()):
            break
        grad, = torch.autograd.grad(step_loss.sum(), p)
        update = (p.detach() - cfg.step_size * grad.sign()).clamp(0.0, 1.0)
        patches[moving] = update[moving]
        tick()
    with torch.no_grad():
        loss, success = _loss(model, paste(images, patches, places), targets, glances)
    return patches, loss, success


def patch_attack(model: nn.Module, images: torch.Tensor, targets: torch.Tensor, cfg: PatchConfig, *,
                 glances: int | None = None, seed: int = 0, callback: Callable[[int, int], None] | None = None,
                 keep: Callable[[PatchResult], None] | None = None) -> PatchResult:
    """Optimise one patch per image (B, 3, H, W) in [0, 1] towards ``targets`` (B,). The patch
    starts as uniform noise from ``seed``; ``callback(done, total)`` is called after each step.
    When it raises (the user stopped the run) after the place was chosen, ``keep`` is first
    handed the patches reached so far."""
    if model.training:
        raise ValueError("attack the model in eval mode: call model.eval() once when loading it")
    if images.ndim != 4 or targets.shape != images.shape[:1]:
        raise ValueError(f"expected images (B, 3, H, W) and targets (B,), got {tuple(images.shape)} "
                         f"and {tuple(targets.shape)}")
    b, _, height, width = images.shape
    cfg.check_fits(height, width)
    x, targets = images.detach(), targets.to(images.device)
    gen = torch.Generator(device=x.device).manual_seed(int(seed))
    start = torch.rand((b, 3, cfg.size, cfg.size), generator=gen, device=x.device)
    searching = cfg.place is None
    total = cfg.steps
    done_steps = [0]

    def tick() -> None:
        done_steps[0] += 1
        if callback is not None:
            callback(min(done_steps[0], total), total)

    if searching:
        places = candidate_places(height, width, cfg.size)
        k = len(places)
        many = x.repeat_interleave(k, dim=0)
        where = torch.tensor(places * b, device=x.device)
        search = min(cfg.search_steps, cfg.steps)
        tried, loss, _ = _optimise(model, many, start.repeat_interleave(k, dim=0), where,
                                   targets.repeat_interleave(k), cfg, search, glances, False, tick)
        best = loss.view(b, k).argmin(dim=1)
        chosen = torch.arange(b, device=x.device) * k + best
        patches, where = tried[chosen], where[chosen]
        remaining = cfg.steps - search
    else:
        patches = start
        where = torch.tensor([list(cfg.place)] * b, device=x.device)
        remaining = cfg.steps
    patches = patches.clone()
    try:
        patches, _, success = _optimise(model, x, patches, where, targets, cfg, remaining, glances, cfg.early_stop,
                                        tick)
    except BaseException:
        if keep is not None:
            keep(_result(model, x, patches, where, targets, glances, done_steps[0]))
        raise
    if callback is not None:
        callback(total, total)
    return _result(model, x, patches, where, targets, glances, done_steps[0])


@torch.no_grad()
def _result(model: nn.Module, x: torch.Tensor, patches: torch.Tensor, where: torch.Tensor, targets: torch.Tensor,
            glances: int | None, steps: int) -> PatchResult:
    patched = paste(x, patches, where)
    _, success = _loss(model, patched, targets, glances)
    return PatchResult(patched, patches.clone(), where.cpu(), success.cpu(), targets.cpu(), steps)
