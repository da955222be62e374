"""The black-box attack for display: Square Attack (``model.square``) on one image with its drift
over queries, cached in the ``Lab`` like the page's own attack, and the run as CSV. An attack
that is interrupted (a Stop button, or any control moved while it runs) keeps its best iterate
where the Lab keeps every stopped run's (``Lab.stoppable``), for the page run that follows.
"""

from __future__ import annotations

import csv
import io
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import numpy as np
import torch
from torch import nn

from model.inference import model_device, predict
from model.records import Drift, SquareRun
from model.square import SquareConfig, square_attack, square_settings

from .cache import digest
from .lab import Lab, Subject
from .runs import MAX_DRIFT_FRAMES, check_run, image_target, perturbation_norms

__all__ = ["SquareRun", "query_frames", "run_square", "square_key", "cached_square", "black_box",
           "square_csv", "DEFAULT_SQUARE", "MAX_PAGE_QUERIES"]

# The page's Square Attack: L-inf 16/255 (the budget docs/results.md compares with PGD), 1,000
# queries; the view takes its norm, budget and target from the sidebar's attack when it opens.
DEFAULT_SQUARE = SquareConfig(norm="linf", eps=16 / 255, queries=1000, target="random")
MAX_PAGE_QUERIES = 10_000  # each query is one forward pass: about a minute on the canvases, more on photos


def query_frames(queries: int, frames: int = MAX_DRIFT_FRAMES) -> list[int]:
    """At most ``frames`` query counts from 0 (the clean image) to ``queries``, spaced
    geometrically: Square's squares shrink on a log scale of queries, and most attacks that
    succeed do so early."""
    if queries < 1 or frames < 3:
        raise ValueError(f"need queries >= 1 and frames >= 3, got {queries}, {frames}")
    picked = {0, 1, int(queries)}
    for n in range(frames, 1, -1):  # the densest geometric grid that fits in ``frames``
        grid = {int(round(v)) for v in np.geomspace(1, queries, n)}
        if len(picked | grid) <= frames:
            return sorted(picked | grid)
    return sorted(picked)


@torch.no_grad()
def _read(model: nn.Module, images: torch.Tensor, glances: int) -> tuple[np.ndarray, np.ndarray]:
    """Attention (S, N, heads, h, w) and class probabilities after the last glance (S, C)."""
    out = model(images.to(model_device(model)), glances=glances)
    return out.attention.cpu().numpy(), out.logits.softmax(-1).cpu().numpy()


def _interrupting(progress: Callable[[float], None] | None, stopped: list[BaseException]
                  ) -> Callable[[int, int], bool]:
    """The attack's callback: reports progress; when ``progress`` raises (the page's way of
    interrupting), records the exception and asks the attack to stop with what it has."""
    def callback(done: int, total: int) -> bool:
        if progress is None:
            return False
        try:
            progress(done / max(total, 1))
        except BaseException as exc:  # noqa: B036 - the caller's interrupt, re-raised once the run is kept
            stopped.append(exc)
            return True
        return False
    return callback


_THREADS = torch.get_num_threads()  # the process's setting, put back when no block holds one thread
_threads_lock = threading.Lock()
_holders = [0]


@contextmanager
def one_thread() -> Iterator[None]:
    """Torch ops in this block on one intra-op thread. Square's queries are one-image forward
    passes, too small to split: on the shared 2-core machine (load 9) one pass of the shipped
    default took 5-9 ms on one thread and 36-168 ms on two, whose threads wait on each other.
    The setting is this thread's (OpenMP) and the one threads started meanwhile begin with; the
    last block to end puts the process's own back."""
    with _threads_lock:
        _holders[0] += 1
        torch.set_num_threads(1)
    try:
        yield
    finally:
        with _threads_lock:
            _holders[0] -= 1
            torch.set_num_threads(1 if _holders[0] else _THREADS)


def run_square(model: nn.Module, image: np.ndarray, label: int, glances: int, cfg: SquareConfig,
               seed: int = 0, progress: Callable[[float], None] | None = None,
               keep: Callable[[SquareRun], None] | None = None) -> SquareRun:
    """Square Attack on one (H, W, 3) image against ``model`` unrolled for ``glances``.

    ``label`` is what the attack moves away from (the true class, or the clean prediction); a
    random target is drawn from the image and the seed (``compute.runs.image_target``), as the
    page's PGD does. ``progress(fraction)`` is called after each query. When it raises, the
    attack stops: the run so far (its best iterate, ``stopped`` set) goes to ``keep`` and the
    exception goes on.
    """
    check_run(model, image, label, glances, cfg)
    num_classes = model.config.num_classes
    t0 = time.perf_counter()
    device = model_device(model)
    x = torch.from_numpy(np.ascontiguousarray(image, dtype=np.float32)).permute(2, 0, 1)[None].to(device)
    y = torch.tensor([int(label)], device=device)
    aim = None
    if cfg.target == "random":
        aim = torch.tensor([image_target(image, int(label), num_classes, seed)], device=device)
    stopped: list[BaseException] = []
    with one_thread():
        result = square_attack(model, x, y, cfg, glances=glances, seed=seed, targets=aim,
                               trace_queries=query_frames(cfg.queries), callback=_interrupting(progress, stopped))
    used = int(result.queries[0])
    traced = sorted(q for (_, q) in result.trace if q <= used)
    frames = [result.trace[(0, q)] for q in traced]
    labels = [f"query {q}" if q else "clean" for q in traced]
    final = result.images.detach().cpu()
    if torch.equal(frames[-1], final) and traced[-1] > 0:
        labels[-1] += " (result)"
    else:
        frames.append(final)
        labels.append(f"query {used} (result)")
    stack = torch.cat(frames)
    attention, probs = _read(model, stack, glances)
    adv = result.images[0].permute(1, 2, 0).cpu().numpy()
    run = SquareRun(adv, predict(model, adv, glances), int(label), int(result.targets[0]), bool(result.success[0]),
                    used, bool(stopped), Drift(labels, stack.permute(0, 2, 3, 1).numpy(), attention, probs),
                    cfg, int(seed), int(glances), time.perf_counter() - t0)
    if stopped:
        if keep is not None:
            keep(run)
        raise stopped[0]
    return run


def square_key(s: Subject, cfg: SquareConfig, seed: int) -> tuple[str, str]:
    """The cache key of a Square Attack on a subject, built as ``Lab.attack_key`` builds PGD's."""
    return ("square", digest(s.key, square_settings(cfg, seed, s.glances)))


def cached_square(lab: Lab, s: Subject, cfg: SquareConfig, seed: int) -> SquareRun | None:
    """The finished attack for these inputs, else the best iterate a stopped one reached
    (``run.stopped``), else None; nothing is run (``Lab.finished_or_stopped``: a run of the same
    inputs still under way, in any session, is waited for a few seconds)."""
    return lab.finished_or_stopped(square_key(s, cfg, seed))


def black_box(lab: Lab, s: Subject, cfg: SquareConfig, seed: int,
              progress: Callable[[float], None] | None = None) -> SquareRun:
    """Run (or fetch) Square Attack on a subject through the Lab's cache and attack gate; a run
    that is stopped is kept apart (``cached_square`` shows it) and never cached as finished, so
    the same settings run it anew."""
    return lab.stoppable(square_key(s, cfg, seed),
                         lambda keep: run_square(s.model, s.image, s.label, s.glances, cfg, seed, progress, keep))


def square_csv(run: SquareRun, clean: np.ndarray, class_names: list[str]) -> bytes:
    """The run as CSV (UTF-8): one row per drawn query count (the best iterate then: its class,
    the probabilities of the label and of the target, its distance from the clean image), after
    a header block with the settings and the outcome."""
    buf = io.StringIO()
    w = csv.writer(buf)
    settings = {**square_settings(run.config, run.seed, run.glances), "label": class_names[run.label],
                "target": run.goal(class_names), "success": int(run.success), "queries_used": run.queries,
                "stopped": int(run.stopped), "seconds": round(run.seconds, 3)}
    for k, v in settings.items():
        w.writerow([f"# {k}", v])
    w.writerow(["frame", "predicted", "p_label", "p_target", "linf_255", "l2"])
    for name, img, p in zip(run.drift.labels, run.drift.images, run.drift.probs):
        norms = perturbation_norms(clean, img)
        aimed = "" if run.config.target == "untargeted" else f"{p[run.target]:.4f}"
        w.writerow([name, class_names[int(p.argmax())], f"{p[run.label]:.4f}", aimed,
                    f"{norms['linf_255']:.2f}", f"{norms['l2']:.4f}"])
    return buf.getvalue().encode("utf-8")
