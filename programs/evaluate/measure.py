"""Measurements of checkpoints under attack; each returns plain numbers (dicts and rows).

Under torchrun each rank takes every world-th batch (batch seeds follow the global batch index,
so the answer equals a single process's) and the counts are summed on every rank.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from model.attacks import AttackConfig, pgd
from model.data import CANVAS, DEFAULT_TASK, ImageFolder, make_batch
from model.metrics import mean_box_mass
from model.square import SquareConfig, square_attack
from programs.distributed import all_reduce_sum, gather_array, is_main, shard
from programs.seeds import eval_attack_seed

__all__ = ["task_metrics", "attention_on_item", "robustness_grid", "folder_robustness", "target_transfer",
           "FLOOR_EPS_255", "PULL_EPS_255", "square_robustness"]

FLOOR_EPS_255 = 8  # the robust-accuracy floor's attack (random target)
PULL_EPS_255 = (16, 32)  # targeted attacks whose pull on the attention is measured


class _NoBar:
    def update(self, n: int = 1) -> None:
        pass

    def set_postfix(self, **kwargs: Any) -> None:
        pass


@contextlib.contextmanager
def progress_bar(total: int, desc: str, enabled: bool) -> Iterator[Any]:
    """A tqdm bar on the main rank when ``enabled``, else one that does nothing."""
    if not (enabled and is_main()):
        yield _NoBar()
        return
    from tqdm import tqdm
    with tqdm(total=total, desc=desc, dynamic_ncols=True) as bar:
        yield bar


def attention_on_item(attention: torch.Tensor, boxes: torch.Tensor, image_size: int = CANVAS) -> np.ndarray:
    """(B,) mass of the glance- and head-averaged attention (B, N, heads, h, w) in each box."""
    return mean_box_mass(attention.detach().float().cpu().numpy(), boxes.cpu().numpy(), (image_size, image_size))


def _device(model: nn.Module) -> torch.device:
    return next(model.parameters()).device


def task_metrics(model: nn.Module, n: int = 2000, glances: int | None = None,
                 batch_size: int = 100, seed: int = 0, attack_steps: int = 20,
                 progress: bool = True, task: str = DEFAULT_TASK, start: int = 0) -> dict[str, Any]:
    """The floor metrics on ``n`` test canvases from index ``start`` (seed ``seed``), at
    ``glances`` (the model's default when None): clean accuracy (and per glance count 1..16
    where the model has glances), accuracy under PGD towards a random wrong class at 8/255, the
    attention mass on the item, and the mean drop of that mass where targeted PGD at 16/255 and
    32/255 succeeds."""
    if not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be an integer >= 1 (test canvases), got {n!r}")
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be an integer >= 1, got {batch_size!r}")
    if not isinstance(attack_steps, int) or attack_steps < 1:
        raise ValueError(f"attack_steps must be an integer >= 1, got {attack_steps!r}")
    glances = model.glances_for(glances)
    per_glance = [g for g in range(1, 17) if g <= model.max_glances]
    correct_by_glance = np.zeros(len(per_glance))
    drops: dict[int, list[np.ndarray]] = {e: [] for e in PULL_EPS_255}
    success: dict[int, list[np.ndarray]] = {e: [] for e in PULL_EPS_255}
    robust, clean, mass = [], [], []
    device = _device(model)
    mine = shard(list(range(0, n, batch_size)))  # under torchrun each rank takes every world-th batch
    with progress_bar(len(mine), "evaluate", progress) as bar:
        for b, first in mine:
            x, y, boxes = make_batch("test", range(start + first, start + min(n, first + batch_size)), seed=seed,
                                     task=task)
            x, y = x.to(device), y.to(device)
            with torch.no_grad():  # one unroll serves every count: glance t never sees later ones
                out = model(x, glances=max(glances, max(per_glance)))
            for i, g in enumerate(per_glance):
                correct_by_glance[i] += float((out.step_logits[:, g - 1].argmax(1) == y).sum())
            clean.append((out.step_logits[:, glances - 1].argmax(1) == y).cpu().numpy())
            m_clean = attention_on_item(out.attention[:, :glances], boxes)
            mass.append(m_clean)
            res = pgd(model, x, y, AttackConfig(eps=FLOOR_EPS_255 / 255, steps=attack_steps, target="random"),
                      glances=glances, seed=eval_attack_seed(seed, b))
            with torch.no_grad():
                robust.append((model(res.images, glances=glances).logits.argmax(1) == y).cpu().numpy())
            for eps in PULL_EPS_255:
                res = pgd(model, x, y, AttackConfig(eps=eps / 255, steps=attack_steps, target="random"),
                          glances=glances, seed=eval_attack_seed(seed, b, offset=1))
                with torch.no_grad():
                    adv = model(res.images, glances=glances)
                ok = res.success.cpu().numpy()
                success[eps].append(ok)
                drops[eps].append((m_clean - attention_on_item(adv.attention, boxes))[ok])
            bar.update(1)
            bar.set_postfix(clean=f"{np.concatenate(clean).mean():.3f}", robust=f"{np.concatenate(robust).mean():.3f}")
    correct_by_glance = np.array(all_reduce_sum(list(correct_by_glance), device))
    result: dict[str, Any] = {
        "n": n, "glances": glances, "seed": seed,
        "clean_acc": float(gather_array(clean).mean()),
        f"pgd{attack_steps}_random_target_{FLOOR_EPS_255}_255_acc": float(gather_array(robust).mean()),
        "attention_on_item_clean": float(gather_array(mass).mean()),
        "clean_acc_by_glances": {str(g): float(c / n) for g, c in zip(per_glance, correct_by_glance)},
    }
    for eps in PULL_EPS_255:
        d = gather_array(drops[eps])
        result[f"targeted_pgd{attack_steps}_{eps}_255_success"] = float(gather_array(success[eps]).mean())
        result[f"attention_on_item_drop_{eps}_255"] = float(d.mean()) if d.size else float("nan")
    return result


def robustness_grid(models: dict[str, nn.Module], n: int = 500, glances: Sequence[int] = (1, 2, 4, 8, 16),
                    steps: Sequence[int] = (0, 10, 20, 50), eps_255: Sequence[float] = (8, 16),
                    targets: Sequence[str] = ("random", "untargeted"), batch_size: int = 100,
                    seed: int = 0, progress: bool = True, task: str = DEFAULT_TASK,
                    start: int = 0) -> list[dict[str, Any]]:
    """Accuracy under L-inf PGD for every (model, glances, target, eps, steps) on ``n`` test
    canvases from index ``start``, with attention on the item clean and adversarial. Each step
    count is its own attack (the default step size depends on it); a model without glances is run
    once, reported as glances=1."""
    jobs = []
    for name, model in models.items():
        for g in sorted({model.glances_for(g) for g in glances}):
            for t in targets:
                for e in eps_255:
                    for k in steps:
                        jobs.append((name, model, g, t, e, k))
    mine = shard([range(start + s, start + min(n, s + batch_size)) for s in range(0, n, batch_size)])
    batches = [(b, make_batch("test", idx, seed=seed, task=task)) for b, idx in mine]  # this rank's shard
    clean_mass: dict[tuple[str, int, int], np.ndarray] = {}
    rows = []
    with progress_bar(len(jobs) * len(batches), "grid", progress) as bar:
        for name, model, g, t, e, k in jobs:
            correct, succeeded, mass_clean, mass_adv, t0 = [], [], [], [], time.time()
            device = _device(model)
            for b, (x, y, boxes) in batches:
                x, y = x.to(device), y.to(device)
                key = (name, g, b)
                if key not in clean_mass:
                    with torch.no_grad():
                        clean_mass[key] = attention_on_item(model(x, glances=g).attention, boxes)
                res = pgd(model, x, y, AttackConfig(eps=e / 255, steps=k, target=t), glances=g,
                          seed=eval_attack_seed(seed, b))
                with torch.no_grad():
                    adv = model(res.images, glances=g)
                correct.append((adv.logits.argmax(1) == y).cpu().numpy())
                succeeded.append(res.success.cpu().numpy())
                mass_clean.append(clean_mass[key])
                mass_adv.append(attention_on_item(adv.attention, boxes))
                bar.update(1)
            rows.append({"model": name, "arch": model.config.arch, "glances": g, "target": t, "eps_255": e,
                         "steps": k, "n": n, "acc": float(gather_array(correct).mean()),
                         "attack_success": float(gather_array(succeeded).mean()),
                         "attention_on_item_clean": float(gather_array(mass_clean).mean()),
                         "attention_on_item_adv": float(gather_array(mass_adv).mean()),
                         "seconds": round(time.time() - t0, 2)})
    return rows


def folder_robustness(model: nn.Module, dataset: ImageFolder, glances: Sequence[int] = (4, 16),
                      eps_255: Sequence[float] = (16,), steps: Sequence[int] = (0, 10), target: str = "random",
                      batch_size: int = 50, seed: int = 0, n: int | None = None,
                      progress: bool = True) -> list[dict[str, Any]]:
    """Accuracy on an image folder (e.g. ImageNet val) clean and under L-inf PGD, for every
    (glances, eps, steps). Class indices follow the checkpoint's ``class_names``."""
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be an integer >= 1, got {batch_size!r}")
    if target not in ("random", "untargeted"):
        raise ValueError(f"target must be 'random' or 'untargeted', got {target!r}")
    total = len(dataset) if n is None else min(n, len(dataset))
    if total < 1:
        raise ValueError(f"n must be >= 1 (images to evaluate), got {n!r}")
    g_list = sorted({model.glances_for(g) for g in glances})
    jobs = [(g, e, k) for g in g_list for e in eps_255 for k in steps]
    counts = np.zeros((len(jobs), 2))  # correct, attack successes
    device = _device(model)
    mine = shard([range(s, min(total, s + batch_size)) for s in range(0, total, batch_size)])
    t0 = time.time()
    with progress_bar(len(mine), "evaluate", progress) as bar:
        for b, idx in mine:
            items = [dataset[i] for i in idx]
            x = torch.stack([im for im, _ in items]).to(device)
            y = torch.tensor([lab for _, lab in items], device=device)
            for j, (g, e, k) in enumerate(jobs):
                res = pgd(model, x, y, AttackConfig(eps=e / 255, steps=k, target=target), glances=g,
                          seed=eval_attack_seed(seed, b))
                with torch.no_grad():
                    counts[j, 0] += float((model(res.images, glances=g).logits.argmax(1) == y).sum())
                counts[j, 1] += float(res.success.sum())
            bar.update(1)
    counts = np.array(all_reduce_sum(counts.ravel().tolist(), device)).reshape(counts.shape)
    return [{"glances": g, "target": target, "eps_255": e, "steps": k, "n": total,
             "acc": counts[j, 0] / total, "attack_success": counts[j, 1] / total,
             "seconds": round(time.time() - t0, 1)} for j, (g, e, k) in enumerate(jobs)]


def target_transfer(models: dict[str, nn.Module], judge: nn.Module, n: int = 1000, eps_255: float = 32,
                    steps: int = 20, batch_size: int = 100, seed: int = 0,
                    progress: bool = True, task: str = DEFAULT_TASK,
                    step_size_255: float | None = None, start: int = 0) -> list[dict[str, Any]]:
    """Does the target class appear in the perturbation? For each model: targeted L-inf PGD
    towards a random wrong class on ``n`` test canvases from index ``start`` (the same targets for
    every model: they depend on the seed and labels only), then ``judge``, a model never used to
    craft them, classifies the adversarial images. Reports the attack's success on the model, how
    often the judge sees the target (over all examples and over the successful ones) and how
    often it still sees the true class; and a control: the same canvases with random-sign noise of
    the same L-inf size, read by the judge (its clean accuracy, the true class and the target
    under noise). A judge that cannot read noisy canvases (it calls them all one class) makes
    "judged as target" the share of that class among the targets, the same for every model.
    ``step_size_255`` None is the protocol's step, max(1/255, eps/steps)."""
    cfg = AttackConfig(eps=eps_255 / 255, steps=steps, target="random",
                       step_size=None if step_size_255 is None else step_size_255 / 255)
    mine = shard([range(start + s, start + min(n, s + batch_size)) for s in range(0, n, batch_size)])
    rows = []
    with progress_bar(len(models) * len(mine), "transfer", progress) as bar:
        for name, model in models.items():
            device = _device(model)
            success, as_target, as_true = [], [], []
            control: dict[str, list[np.ndarray]] = {"clean": [], "true": [], "target": []}
            for b, idx in mine:
                x, y, _ = make_batch("test", idx, seed=seed, task=task)
                x, y = x.to(device), y.to(device)
                res = pgd(model, x, y, cfg, glances=model.default_glances, seed=eval_attack_seed(seed, b))
                targets = res.targets.cpu()
                gen = torch.Generator(device=device).manual_seed(eval_attack_seed(seed, b, offset=2))
                signs = torch.randint(0, 2, x.shape, generator=gen, device=device).to(x.dtype) * 2 - 1
                noisy = (x + cfg.eps * signs).clamp(0, 1)
                seen, seen_clean, seen_noisy = (_judged(judge, images) for images in (res.images, x, noisy))
                success.append(res.success.cpu().numpy())
                as_target.append((seen == targets).numpy())
                as_true.append((seen == y.cpu()).numpy())
                control["clean"].append((seen_clean == y.cpu()).numpy())
                control["true"].append((seen_noisy == y.cpu()).numpy())
                control["target"].append((seen_noisy == targets).numpy())
                bar.update(1)
            ok, hit = gather_array(success).astype(bool), gather_array(as_target).astype(bool)
            rows.append({"model": name, "n": n, "eps_255": eps_255, "steps": steps, "step_size_255": cfg.alpha * 255,
                         "attack_success": float(ok.mean()), "judged_target": float(hit.mean()),
                         "judged_target_when_successful": float(hit[ok].mean()) if ok.any() else float("nan"),
                         "judged_true_class": float(gather_array(as_true).mean()),
                         "judge_clean_acc": float(gather_array(control["clean"]).mean()),
                         "noise_judged_true_class": float(gather_array(control["true"]).mean()),
                         "noise_judged_target": float(gather_array(control["target"]).mean())})
    return rows


@torch.no_grad()
def _judged(judge: nn.Module, images: torch.Tensor) -> torch.Tensor:
    """The judge's class for each image, on the CPU."""
    return judge(images.to(_device(judge)), glances=judge.default_glances).logits.argmax(1).cpu()


def wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """95% Wilson score interval of ``k`` successes in ``n``."""
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return round(centre - half, 4), round(centre + half, 4)


def square_robustness(model: nn.Module, n: int = 1000, eps_255: float = 16, queries: int = 5000,
                      glances: int | None = None, pgd_steps: int = 100, target: str = "untargeted",
                      p_init: float | None = None, batch_size: int = 100, seed: int = 0, progress: bool = True,
                      task: str = DEFAULT_TASK) -> dict[str, Any]:
    """The black-box check: accuracy under Square Attack (L-inf, ``queries`` per canvas, scores
    only) beside PGD-``pgd_steps`` (the protocol's step size, random start) on the same first
    ``n`` test canvases, the same targets and glance count. Square finding adversarial examples
    that PGD misses points at gradient masking. Reports each attack's accuracy with its 95%
    Wilson interval, the canvases only one attack fools, the accuracy under both (the worse of
    the two per canvas), and the queries Square spent where it succeeded."""
    if not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be an integer >= 1 (test canvases), got {n!r}")
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be an integer >= 1, got {batch_size!r}")
    if target not in ("untargeted", "random"):
        raise ValueError(f"target must be 'untargeted' or 'random', got {target!r}")
    glances = model.glances_for(glances)
    sq_cfg = SquareConfig(eps=eps_255 / 255, queries=queries, p_init=p_init, target=target)
    pgd_cfg = AttackConfig(eps=eps_255 / 255, steps=pgd_steps, target=target)
    device = _device(model)
    parts: dict[str, list[np.ndarray]] = {k: [] for k in ("clean", "square", "pgd", "queries", "fooled")}
    seconds = {"square": 0.0, "pgd": 0.0}
    mine = shard([range(s, min(n, s + batch_size)) for s in range(0, n, batch_size)])
    with progress_bar(len(mine), "square", progress) as bar:
        for b, idx in mine:
            x, y, _ = make_batch("test", idx, seed=seed, task=task)
            x, y = x.to(device), y.to(device)
            with torch.no_grad():
                parts["clean"].append((model(x, glances=glances).logits.argmax(1) == y).cpu().numpy())
            t0 = time.time()
            sq = square_attack(model, x, y, sq_cfg, glances=glances, seed=eval_attack_seed(seed, b))
            seconds["square"] += time.time() - t0
            t0 = time.time()
            pg = pgd(model, x, y, pgd_cfg, glances=glances, seed=eval_attack_seed(seed, b))
            seconds["pgd"] += time.time() - t0
            with torch.no_grad():
                for name, res in (("square", sq), ("pgd", pg)):
                    parts[name].append((model(res.images, glances=glances).logits.argmax(1) == y).cpu().numpy())
            parts["queries"].append(sq.queries.cpu().numpy())
            parts["fooled"].append(sq.success.cpu().numpy())
            bar.update(1)
            bar.set_postfix(square=f"{np.concatenate(parts['square']).mean():.3f}",
                            pgd=f"{np.concatenate(parts['pgd']).mean():.3f}")
    clean, sq_ok, pgd_ok = (gather_array(parts[k]).astype(bool) for k in ("clean", "square", "pgd"))
    used, fooled = gather_array(parts["queries"]), gather_array(parts["fooled"]).astype(bool)
    total = all_reduce_sum([seconds["square"], seconds["pgd"]], device)
    row: dict[str, Any] = {"n": n, "glances": glances, "target": target, "eps_255": eps_255, "queries": queries,
                           "p_init": sq_cfg.p, "pgd_steps": pgd_steps, "pgd_step_size_255": pgd_cfg.alpha * 255,
                           "seed": seed, "clean_acc": float(clean.mean())}
    for name, ok in (("square", sq_ok), ("pgd", pgd_ok), ("both", sq_ok & pgd_ok)):
        row[f"{name}_acc"] = float(ok.mean())
        row[f"{name}_acc_95"] = wilson(int(ok.sum()), n)
    row["square_minus_pgd"] = row["square_acc"] - row["pgd_acc"]
    row["fooled_by_square_only"] = int((~sq_ok & pgd_ok).sum())
    row["fooled_by_pgd_only"] = int((sq_ok & ~pgd_ok).sum())
    row["square_queries_when_fooled_median"] = float(np.median(used[fooled])) if fooled.any() else None
    row["square_queries_mean"] = float(used.mean())
    row["square_seconds"], row["pgd_seconds"] = round(total[0], 1), round(total[1], 1)
    return row
