"""The computations behind the app, keyed by their inputs and cached, shared safely by every
session of a process: clean predictions, attacks (bounded by a gate), attributions, exports.

The model is only read (eval mode, input gradients only), so threads can share it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np
from torch import nn

from model.attacks import AttackConfig
from model.inference import Prediction, predict

from .analysis import AttackRun, attack_settings, run_attack
from .attribution import attribution
from .cache import AttackGate, ResultCache, digest
from .export import FORMATS, export_metadata, render_exports
from .views import Display

__all__ = ["Lab", "Subject"]


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
