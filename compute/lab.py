"""The computations behind the app, keyed by their inputs and shared safely by every session
of a process: clean predictions, attacks, studies and attributions are cached in a bounded LRU
cache; attacks and attributions pass a gate that bounds how many run at once.

The model is only read (eval mode, input gradients only), so threads can share it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any, TypeVar

import numpy as np
from torch import nn

from model.attacks import AttackConfig, attack_settings
from model.inference import Prediction, predict
from model.patch import PatchConfig
from model.records import AttackRun, Box, GlanceGrid, ImageRace, PatchRun

from .cache import AttackGate, BusyError, ResultCache, digest
from .domain import DomainVerdict, domain_verdict
from .patch import run_patch
from .runs import attribution, run_attack, run_attacks
from .studies import GLANCE_COUNTS, MAX_BATCH, BatchRow, batch_chunk, batch_row, evaluate_grid, image_race

__all__ = ["Lab", "Subject", "BusyError"]

T = TypeVar("T")


def _partial(key: tuple[str, ...]) -> tuple[str, ...]:
    """The cache key of what a stopped computation of ``key`` had reached."""
    return ("partial",) + key


@dataclass(frozen=True)
class Subject:
    """What is being looked at: a model (with a key naming its weights), an image (with a key
    naming its bytes and preprocessing), the label attacks move away from, and its box."""

    model: nn.Module
    model_key: str
    image: np.ndarray
    image_key: str
    image_name: str
    label: int
    box: Box | None
    glances: int

    @property
    def class_names(self) -> list[str]:
        return list(self.model.class_names)

    @property
    def view_key(self) -> str:
        """What the clean prediction depends on."""
        return digest(self.model_key, self.image_key, self.glances)

    @property
    def key(self) -> str:
        """What an attack depends on besides its settings (the label and box too)."""
        return digest(self.view_key, self.label, self.box)


class Lab:
    """Cached, thread-safe computations for many concurrent sessions."""

    def __init__(self, max_results: int = 128, max_attacks: int = 2, attack_timeout: float = 120.0,
                 max_bytes: int = 512 * 2**20) -> None:
        self.results = ResultCache(max_results, max_bytes)
        self.gate = AttackGate(max_attacks, attack_timeout)

    def clean(self, s: Subject) -> Prediction:
        return self.results.get_or_compute(("clean", s.view_key), lambda: predict(s.model, s.image, s.glances))

    @staticmethod
    def attack_key(s: Subject, cfg: AttackConfig, seed: int) -> tuple[str, str]:
        return ("attack", digest(s.key, attack_settings(cfg, seed, s.glances)))

    def cached_attack(self, s: Subject, cfg: AttackConfig, seed: int) -> AttackRun | None:
        return self.results.get(self.attack_key(s, cfg, seed))

    def attack(self, s: Subject, cfg: AttackConfig, seed: int,
               progress: Callable[[float], None] | None = None) -> AttackRun:
        """Run (or fetch) the attack; at most ``gate.limit`` run at once (``BusyError`` after
        waiting ``gate.timeout`` seconds)."""
        def compute() -> AttackRun:
            with self.gate.slot():
                return run_attack(s.model, s.image, s.label, s.glances, cfg, seed, progress)
        return self.results.get_or_compute(self.attack_key(s, cfg, seed), compute)

    @staticmethod
    def study_key(kind: str, s: Subject, cfg: AttackConfig, seed: int, counts: Sequence[int]) -> tuple[str, str]:
        """The cache key of a glance grid or race: the subject (but not its glance count, which
        the study sweeps), the attack settings and seed, the counts."""
        return (kind, digest(s.model_key, s.image_key, s.label, s.box, attack_settings(cfg, seed, 0),
                             [int(c) for c in counts]))

    def cached_study(self, kind: str, s: Subject, cfg: AttackConfig, seed: int,
                     counts: Sequence[int] = GLANCE_COUNTS) -> GlanceGrid | ImageRace | None:
        """A glance grid or race already computed for these inputs, or None (nothing is run; one
        being computed, or stopped and still handing over, is waited for)."""
        key = self.study_key(kind, s, cfg, seed, counts)
        self.results.settle(key)
        return self.results.get(key)

    def domain(self, s: Subject, pixels: np.ndarray | None = None) -> DomainVerdict:
        """Whether the image is inside the model's training domain (``compute.domain``), cached."""
        return self.results.get_or_compute(("domain", s.model_key, s.image_key),
                                           lambda: domain_verdict(s.model, s.image, pixels))

    def defend(self, s: Subject, run: AttackRun, glances: int) -> Prediction:
        """The adversarial image of ``run`` read by the model at ``glances`` (the defender's
        count), without re-attacking: the attack keeps the count it was crafted against."""
        if glances == run.glances:
            return run.prediction
        key = ("defend", digest(s.key, attack_settings(run.config, run.seed, run.glances)), int(glances))
        return self.results.get_or_compute(key, lambda: predict(s.model, run.image, glances))

    def compare(self, first: Subject, second: Subject, cfg: AttackConfig, seed: int,
                progress: Callable[[float], None] | None = None) -> tuple[AttackRun, AttackRun]:
        """The same attack (settings, seed, so the same target and random start) on two models
        looking at the same image; each run is cached like any other attack."""
        runs = []
        for i, s in enumerate((first, second)):
            part = None if progress is None else (lambda f, i=i: progress((i + f) / 2))
            runs.append(self.attack(s, cfg, seed, part))
        return runs[0], runs[1]

    def _attack_many(self, subjects: Sequence[Subject], cfg: AttackConfig, seed: int,
                     progress: Callable[[float], None] | None = None) -> list[AttackRun]:
        """The attack on each subject, cached ones fetched and the rest run side by side in
        batches of one model (``run_attacks``); each finished run is cached as it would be
        alone, also when the user stops the work midway (those are kept, the rest dropped)."""
        runs: list[AttackRun | None] = [self.cached_attack(s, cfg, seed) for s in subjects]
        todo = [i for i, r in enumerate(runs) if r is None]
        if not todo:
            return runs  # type: ignore[return-value]
        if len({id(subjects[i].model) for i in todo}) != 1:
            raise ValueError("a batch of attacks runs on one model")
        chunk = batch_chunk(subjects[todo[0]].image.shape[:2])
        parts = [todo[k:k + chunk] for k in range(0, len(todo), chunk)]
        with self.gate.slot():
            for n, part in enumerate(parts):
                mine = [subjects[i] for i in part]
                share = None if progress is None else (lambda f, n=n: progress((n + f) / len(parts)))

                def keep(done: list[AttackRun | None], mine: list[Subject] = mine) -> None:
                    for s, r in zip(mine, done):
                        if r is not None:
                            self.results.put(self.attack_key(s, cfg, seed), r)

                made = run_attacks(mine[0].model, [s.image for s in mine], [s.label for s in mine],
                                   [s.glances for s in mine], cfg, seed, share, keep)
                keep(made)
                for i, r in zip(part, made):
                    runs[i] = r
        return runs  # type: ignore[return-value]

    def glance_grid(self, s: Subject, cfg: AttackConfig, seed: int, counts: Sequence[int] = GLANCE_COUNTS,
                    progress: Callable[[float], None] | None = None) -> GlanceGrid:
        """Attacks crafted against each count in ``counts``, side by side in one batch (cached:
        the page's own attack is one of them), each read at every count in ``counts``."""
        key = self.study_key("grid", s, cfg, seed, counts)

        def compute() -> GlanceGrid:
            runs = self._attack_many([replace(s, glances=int(n)) for n in counts], cfg, seed, progress)
            return evaluate_grid(s.model, s.image, runs, s.label, counts)
        return self.results.get_or_compute(key, compute)

    def partial_grid(self, s: Subject, cfg: AttackConfig, seed: int,
                     counts: Sequence[int] = GLANCE_COUNTS) -> GlanceGrid | None:
        """The rows of a glance grid whose attacks are cached (a stopped run keeps those), or
        None when there are none; nothing is run but the reading of the adversarial images."""
        self.results.settle(self.study_key("grid", s, cfg, seed, counts))
        runs = [self.cached_attack(replace(s, glances=int(n)), cfg, seed) for n in counts]
        done = [r for r in runs if r is not None]
        return evaluate_grid(s.model, s.image, done, s.label, counts) if done else None

    def race(self, s: Subject, cfg: AttackConfig, seed: int, counts: Sequence[int] = GLANCE_COUNTS,
             progress: Callable[[float], None] | None = None) -> ImageRace:
        """The true class's probability along one attack per glance count (see ``image_race``).
        A stopped race is kept up to its last step (``partial_race``)."""
        return self.stoppable(self.study_key("race", s, cfg, seed, counts),
                              lambda keep: image_race(s.model, s.image, s.label, cfg, seed, counts, progress, keep))

    def partial_race(self, s: Subject, cfg: AttackConfig, seed: int,
                     counts: Sequence[int] = GLANCE_COUNTS) -> ImageRace | None:
        """The race a stopped run had reached, or None."""
        key = self.study_key("race", s, cfg, seed, counts)
        self.results.settle(key)
        return self.results.get(_partial(key))

    def batch(self, subjects: Sequence[Subject], cfg: AttackConfig, seed: int,
              progress: Callable[[float], None] | None = None) -> list[BatchRow]:
        """The attack on each subject (each cached like the page's own), one table row each."""
        if not 1 <= len(subjects) <= MAX_BATCH:
            raise ValueError(f"a batch holds 1 to {MAX_BATCH} images, got {len(subjects)}")

        def compute() -> list[BatchRow]:
            runs = self._attack_many(subjects, cfg, seed, progress)
            return [batch_row(s.image_name, s.image, s.box, self.clean(s), r) for s, r in zip(subjects, runs)]
        return self.results.get_or_compute(self.batch_key(subjects, cfg, seed), compute)

    @staticmethod
    def batch_key(subjects: Sequence[Subject], cfg: AttackConfig, seed: int) -> tuple[str, str]:
        settings = attack_settings(cfg, seed, 0)
        return ("batch", digest([s.key for s in subjects], [s.glances for s in subjects], settings))

    def batch_rows(self, subjects: Sequence[Subject], cfg: AttackConfig, seed: int) -> list[BatchRow | None]:
        """The table row of each subject whose attack is cached, None for the others (nothing is run)."""
        self.results.settle(self.batch_key(subjects, cfg, seed))
        runs = [self.cached_attack(s, cfg, seed) for s in subjects]
        return [None if r is None else batch_row(s.image_name, s.image, s.box, self.clean(s), r)
                for s, r in zip(subjects, runs)]

    def attributions(self, s: Subject, run: AttackRun | None, ig_steps: int = 32) -> dict[str, np.ndarray]:
        """Saliency and Integrated Gradients ((H, W) each) for the predicted class of the clean
        image and, with a run, of the adversarial image: keys "<method>/<clean|adversarial>"."""
        key = ("attr", s.key, None if run is None else digest(attack_settings(run.config, run.seed, run.glances)),
               ig_steps)

        def compute() -> dict[str, np.ndarray]:
            images = [("clean", s.image, self.clean(s).label)]
            if run is not None:
                images.append(("adversarial", run.image, run.prediction.label))
            with self.gate.slot():
                return {f"{m}/{name}": attribution(s.model, img, target, s.glances, m, ig_steps)
                        for name, img, target in images for m in ("saliency", "integrated_gradients")}
        return self.results.get_or_compute(key, compute)

    @staticmethod
    def patch_key(s: Subject, cfg: PatchConfig, seed: int, target: int | None) -> tuple[str, str]:
        return ("patch", digest(s.key, asdict(cfg), int(seed), target))

    def patch(self, s: Subject, cfg: PatchConfig, seed: int, target: int | None = None,
              progress: Callable[[float], None] | None = None) -> PatchRun:
        """An adversarial patch on the subject (``compute.patch.run_patch``), cached; a stopped
        run keeps the patch it had reached (``cached_patch``)."""
        return self.stoppable(self.patch_key(s, cfg, seed, target),
                              lambda keep: run_patch(s.model, s.image, s.label, s.glances, cfg, seed, target, progress,
                                                     keep))

    def cached_patch(self, s: Subject, cfg: PatchConfig, seed: int, target: int | None = None) -> PatchRun | None:
        """The finished patch for these inputs, else the one a stopped run reached, else None."""
        return self.finished_or_stopped(self.patch_key(s, cfg, seed, target))

    def stoppable(self, key: tuple[str, ...], compute: Callable[[Callable[[Any], None]], T]) -> T:
        """Run (or fetch) ``compute(keep)`` for ``key`` through the cache and the attack gate. A run
        that is stopped hands what it had reached to ``keep`` (``keeper``) and raises; a finished
        one is cached and replaces what an earlier stopped run of the same inputs had kept."""
        def run() -> T:
            with self.gate.slot():
                value = compute(self.keeper(key))
            self.results.discard(_partial(key))
            return value
        return self.results.get_or_compute(key, run)

    def keeper(self, key: tuple[str, ...]) -> Callable[[Any], None]:
        """Where a run computing ``key`` hands what it had reached when it is stopped: kept apart
        from finished results, so the same inputs run anew when asked again. Called from the
        stopped run's own thread, without Streamlit."""
        return lambda reached: self.results.put(_partial(key), reached)

    def finished_or_stopped(self, key: tuple[str, ...]) -> Any | None:
        """The finished result of ``key``, else what a stopped run of it reached, else None;
        shared by every session, like all results here. Streamlit starts the next page run while
        a stopped one is still unwinding in its thread, so a computation of ``key`` still running
        (that, or another session's run of the same inputs) is waited for first, at most
        ``ResultCache.settle``'s timeout."""
        self.results.settle(key)
        return self.results.get(key) or self.results.get(_partial(key))

    def kept(self, kind: str, key: str, compute: Callable[[], object] | None = None,
             gated: bool = True) -> object | None:
        """A result of another module's computation (``kind``: "sweep", "belief"...) cached under
        ``key`` like every result here: without ``compute`` only looked up (None when missing), with
        it computed once, through the attack gate when ``gated``."""
        if compute is None:
            return self.results.get((kind, key))

        def run() -> object:
            if not gated:
                return compute()
            with self.gate.slot():
                return compute()
        return self.results.get_or_compute((kind, key), run)
