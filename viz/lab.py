"""The computations behind the app, keyed by their inputs and shared safely by every session
of a process: clean predictions, attacks and attributions are cached in a bounded LRU cache;
attacks and attributions pass a gate that bounds how many run at once. Exports are rendered on
request and not cached (the page keeps the last set it asked for).

The model is only read (eval mode, input gradients only), so threads can share it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import threading
from collections import OrderedDict
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any, Callable, Hashable, Iterator, Sequence, TypeVar

import numpy as np
from torch import nn

from model.attacks import AttackConfig
from model.inference import Prediction, predict

from .files import FORMATS, export_metadata, render_exports
from .frames import Display
from .runs import AttackRun, attack_settings, attribution, run_attack
from .studies import GLANCE_COUNTS, MAX_BATCH, BatchRow, GlanceGrid, ImageRace, batch_row, evaluate_grid, image_race

__all__ = ["Lab", "Subject", "ResultCache", "AttackGate", "BusyError", "digest", "size_of"]

T = TypeVar("T")


def digest(*parts: Any) -> str:
    """A stable hex key for JSON-able parts (bytes are hashed first)."""
    norm = [hashlib.sha256(p).hexdigest() if isinstance(p, (bytes, bytearray)) else p for p in parts]
    return hashlib.sha256(json.dumps(norm, sort_keys=True, default=str).encode()).hexdigest()


def size_of(value: Any) -> int:
    """Bytes held by the arrays and byte strings inside ``value`` (dataclasses, dicts, lists,
    tuples), which is what dominates a cached result; small Python objects count 64 bytes."""
    if isinstance(value, np.ndarray):
        return int(value.nbytes)
    if isinstance(value, (bytes, bytearray, str)):
        return len(value)
    if isinstance(value, dict):
        return sum(size_of(k) + size_of(v) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return sum(size_of(v) for v in value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return sum(size_of(getattr(value, f.name)) for f in dataclasses.fields(value))
    return 64


class ResultCache:
    """At most ``max_entries`` results holding at most ``max_bytes`` of arrays; the least
    recently used go first. ``get_or_compute`` computes a missing key once even when several
    threads ask for it together."""

    def __init__(self, max_entries: int = 64, max_bytes: int = 512 * 2**20) -> None:
        if not isinstance(max_entries, int) or max_entries < 1:
            raise ValueError(f"max_entries must be an integer >= 1, got {max_entries!r}")
        if not isinstance(max_bytes, int) or max_bytes < 1:
            raise ValueError(f"max_bytes must be an integer >= 1, got {max_bytes!r}")
        self.max_entries, self.max_bytes = max_entries, max_bytes
        self.bytes = 0
        self._sizes: dict[Hashable, int] = {}
        self._data: OrderedDict[Hashable, Any] = OrderedDict()
        self._lock = threading.Lock()
        self._pending: dict[Hashable, threading.Lock] = {}
        self.hits = 0
        self.misses = 0

    def get(self, key: Hashable) -> Any | None:
        with self._lock:
            if key in self._data:
                self._data.move_to_end(key)
                self.hits += 1
                return self._data[key]
            return None

    def put(self, key: Hashable, value: Any) -> None:
        size = size_of(value)
        with self._lock:
            if key in self._data:
                self.bytes -= self._sizes.pop(key)
            self._data[key] = value
            self._sizes[key] = size
            self.bytes += size
            self._data.move_to_end(key)
            while len(self._data) > 1 and (len(self._data) > self.max_entries or self.bytes > self.max_bytes):
                old, _ = self._data.popitem(last=False)
                self.bytes -= self._sizes.pop(old)

    def get_or_compute(self, key: Hashable, compute: Callable[[], T]) -> T:
        found = self.get(key)
        if found is not None:
            return found
        with self._lock:
            lock = self._pending.setdefault(key, threading.Lock())
        with lock:  # one computation per key; the others wait for it
            found = self.get(key)
            if found is not None:
                return found
            with self._lock:
                self.misses += 1
            try:
                value = compute()
                self.put(key, value)
            finally:
                with self._lock:
                    self._pending.pop(key, None)
            return value

    def __len__(self) -> int:
        with self._lock:
            return len(self._data)

    def __contains__(self, key: Hashable) -> bool:
        with self._lock:
            return key in self._data


class BusyError(RuntimeError):
    """Too many attacks are running; try again in a moment."""


class AttackGate:
    """At most ``limit`` attacks at once (each holds a model's activations and gradients); a
    caller waits up to ``timeout`` seconds for a slot, then gets a ``BusyError``."""

    def __init__(self, limit: int = 2, timeout: float = 60.0) -> None:
        if not isinstance(limit, int) or limit < 1:
            raise ValueError(f"limit must be an integer >= 1, got {limit!r}")
        if not timeout >= 0:
            raise ValueError(f"timeout must be >= 0 seconds, got {timeout!r}")
        self.limit, self.timeout = limit, timeout
        self._slots = threading.BoundedSemaphore(limit)
        self._lock = threading.Lock()
        self.running = 0
        self.peak = 0

    @contextmanager
    def slot(self) -> Iterator[None]:
        if not self._slots.acquire(timeout=self.timeout):
            raise BusyError(f"{self.limit} attacks are already running; try again in a moment")
        with self._lock:
            self.running += 1
            self.peak = max(self.peak, self.running)
        try:
            yield
        finally:
            with self._lock:
                self.running -= 1
            self._slots.release()


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
    box: tuple[int, int, int, int] | None
    glances: int

    @property
    def class_names(self) -> list[str]:
        return list(self.model.metadata["class_names"])  # type: ignore[union-attr]

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
        """A glance grid or race already computed for these inputs, or None (nothing is run)."""
        return self.results.get(self.study_key(kind, s, cfg, seed, counts))

    def cached_batch(self, subjects: Sequence[Subject], cfg: AttackConfig, seed: int) -> list[BatchRow] | None:
        """The batch table when every attack in it is cached (no attack is run), else None."""
        runs = [self.cached_attack(s, cfg, seed) for s in subjects]
        if not subjects or any(r is None for r in runs):
            return None
        return [batch_row(s.image_name, s.image, s.box, self.clean(s), r) for s, r in zip(subjects, runs)]

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

    def glance_grid(self, s: Subject, cfg: AttackConfig, seed: int, counts: Sequence[int] = GLANCE_COUNTS,
                    progress: Callable[[float], None] | None = None) -> GlanceGrid:
        """Attacks crafted against each count in ``counts`` (cached: the page's own attack is one
        of them), each read at every count in ``counts``."""
        key = self.study_key("grid", s, cfg, seed, counts)

        def compute() -> GlanceGrid:
            runs = []
            for i, n in enumerate(counts):
                part = None if progress is None else (lambda f, i=i: progress((i + f) / len(counts)))
                runs.append(self.attack(replace(s, glances=int(n)), cfg, seed, part))
            return evaluate_grid(s.model, s.image, runs, s.label, counts)
        return self.results.get_or_compute(key, compute)

    def race(self, s: Subject, cfg: AttackConfig, seed: int, counts: Sequence[int] = GLANCE_COUNTS,
             progress: Callable[[float], None] | None = None) -> ImageRace:
        """The true class's probability along one attack per glance count (see ``image_race``)."""
        key = self.study_key("race", s, cfg, seed, counts)

        def compute() -> ImageRace:
            with self.gate.slot():
                return image_race(s.model, s.image, s.label, cfg, seed, counts, progress)
        return self.results.get_or_compute(key, compute)

    def batch(self, subjects: Sequence[Subject], cfg: AttackConfig, seed: int,
              progress: Callable[[float], None] | None = None) -> list[BatchRow]:
        """The attack on each subject (each cached like the page's own), one table row each."""
        if not 1 <= len(subjects) <= MAX_BATCH:
            raise ValueError(f"a batch holds 1 to {MAX_BATCH} images, got {len(subjects)}")
        rows = []
        for i, s in enumerate(subjects):
            part = None if progress is None else (lambda f, i=i: progress((i + f) / len(subjects)))
            run = self.attack(s, cfg, seed, part)
            rows.append(batch_row(s.image_name, s.image, s.box, self.clean(s), run))
        return rows

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

    def exports(self, s: Subject, run: AttackRun | None, display: Display, checkpoint: dict[str, Any],
                formats: Sequence[str] = FORMATS, fps: float = 2.0) -> dict[str, bytes]:
        """The export files as bytes, by format."""
        clean = self.clean(s)
        meta = export_metadata(checkpoint, s.image_name, s.image_key, s.glances, run, s.class_names, s.box)
        return render_exports(s.image, clean, run, s.class_names, s.box, display, meta, formats, fps,
                              f"S3TA Lab: {s.image_name}")
