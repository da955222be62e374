"""Every public function of ``model`` and ``viz`` refuses out-of-range values with a
ValueError that says what is allowed."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import programs.evaluate.measure as ev
from compute import images
from compute.cache import AttackGate, ResultCache
from compute.runs import attribution, drift_steps, run_attack
from model import (
    AttackConfig,
    ModelConfig,
    build_model,
    fourier_basis,
    metrics,
    pgd,
    random_targets,
)
from model.data import make_batch, render_canvas
from model.inference import LogitsOnly, predict
from model.spatial_basis import SpatialBasis
from viz import figures, files, frames
from viz.frames import Display

TINY = ModelConfig(backbone_widths=(4, 8, 8), key_channels=4, value_channels=4, lstm_size=8, query_hidden=8,
                   head_hidden=8, heads=2, image_size=32, basis_size=2)
NET = build_model(TINY).eval()
IMG = np.zeros((32, 32, 3), np.float32)
MAPS = np.full((3, 2, 4, 4), 1 / 16)
X = torch.zeros(2, 3, 32, 32)
Y = torch.zeros(2, dtype=torch.long)

CASES = {
    "negative epsilon": (lambda: AttackConfig(eps=-0.1), "eps must be"),
    "linf epsilon above 1": (lambda: AttackConfig(eps=2.0), "eps must be"),
    "steps above the limit": (lambda: AttackConfig(steps=10_001), "steps must be"),
    "negative steps": (lambda: AttackConfig(steps=-1), "steps must be"),
    "zero restarts": (lambda: AttackConfig(restarts=0), "restarts must be"),
    "unknown norm": (lambda: AttackConfig(norm="l1"), "norm must be"),
    "unknown target": (lambda: AttackConfig(target="most likely"), "target must be"),
    "negative step size": (lambda: AttackConfig(step_size=-1.0), "step_size must be"),
    "zero glances (forward)": (lambda: NET(X, glances=0), "glances must be"),
    "too many glances": (lambda: NET(X, glances=65), "glances must be"),
    "zero glances (pgd)": (lambda: pgd(NET, X, Y, AttackConfig(steps=1), glances=0), "glances must be"),
    "target class out of range": (lambda: pgd(NET, X, Y, AttackConfig(target="class", target_class=10)),
                                  "target_class must be"),
    "labels of the wrong shape": (lambda: pgd(NET, X, Y[:1], AttackConfig()), "expected images"),
    "random targets of one class": (lambda: random_targets(Y, 1), "num_classes must be"),
    "zero glances (predict)": (lambda: predict(NET, IMG, 0), "glances must be"),
    "predict a greyscale array": (lambda: predict(NET, IMG[..., 0], 1), "expected an"),
    "zero glances (LogitsOnly)": (lambda: LogitsOnly(NET, 0), "glances must be"),
    "bad model config": (lambda: ModelConfig(heads=0), "heads"),
    "basis too small": (lambda: fourier_basis(4, 4, 0), "size must be"),
    "spatial basis of size 0": (lambda: SpatialBasis(0), "size must be"),
    "canvas index below 0": (lambda: render_canvas(np.zeros((2, 28, 28), np.uint8), np.zeros(2, np.int64), "test", -1),
                             "index must be"),
    "unknown split": (lambda: make_batch("validation", [0]), "split must be"),
    "evaluate zero examples": (lambda: ev.task_metrics(NET, n=0), "n must be"),
    "evaluate with zero attack steps": (lambda: ev.task_metrics(NET, n=1, attack_steps=0), "attack_steps must be"),
    "unknown canvas task": (lambda: make_batch("test", [0], task="mnist"), "unknown canvas task"),
    "run_attack with zero glances": (lambda: run_attack(NET, IMG, 0, 0, AttackConfig()), "glances must be"),
    "run_attack with a bad label": (lambda: run_attack(NET, IMG, 10, 1, AttackConfig()), "label must be"),
    "drift with one frame": (lambda: drift_steps(10, 1), "frames"),
    "attribution method": (lambda: attribution(NET, IMG, 0, 1, "lrp"), "method must be"),
    "attribution glances": (lambda: attribution(NET, IMG, 0, 0), "glances must be"),
    "overlay opacity": (lambda: frames.overlay(IMG, MAPS[0, 0], alpha=1.5), "alpha must be"),
    "colour map": (lambda: frames.heatmap(MAPS[0, 0], (8, 8), cmap="rainbow"), "cmap must be"),
    "upsample to nothing": (lambda: frames.upsample(MAPS[0, 0], (0, 8)), "size must be"),
    "enlarge by zero": (lambda: frames.enlarge(IMG, 0), "factor must be"),
    "box thickness": (lambda: frames.draw_box(np.zeros((8, 8, 3), np.uint8), (0, 0, 4, 4), thickness=0),
                      "thickness must be"),
    "box of the wrong length": (lambda: metrics.box_mass(MAPS, np.array([0, 0, 4]), (32, 32)), "boxes must"),
    "inverted box": (lambda: metrics.box_mass(MAPS, np.array([8, 8, 4, 4]), (32, 32)), "x0 <= x1"),
    "image size zero": (lambda: metrics.center_of_mass(MAPS, (0, 32)), "image_size must be"),
    "js of different shapes": (lambda: metrics.js_divergence(MAPS, MAPS[:1, :1]), "same shape"),
    "negative attention": (lambda: metrics.entropy(-MAPS), "non-negative"),
    "head out of range": (lambda: metrics.select_head(MAPS, 2), "head must be"),
    "display zoom": (lambda: Display(zoom=9), "zoom must be"),
    "animation frame time": (lambda: figures.frames_animation([np.zeros((1, 4, 4, 3), np.uint8)], ["a"], ["f"],
                                                               frame_ms=0), "frame_ms must be"),
    "gif fps": (lambda: files.to_gif(np.zeros((1, 4, 4, 3), np.uint8), fps=100), "fps must be"),
    "export format": (lambda: files.render_exports(frames.Shown(IMG, None, None, []), Display(), {}, ["mp4"]),
                      "formats must be"),
    "image fit": (lambda: images.prepare_image(b"x", 32, fit="zoom"), "fit must be"),
    "image size": (lambda: images.prepare_image(b"x", 2), "size must be"),
    "cache size": (lambda: ResultCache(0), "max_entries must be"),
    "attack gate": (lambda: AttackGate(0), "limit must be"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_out_of_range_values_are_refused_with_what_is_allowed(case):
    call, words = CASES[case]
    with pytest.raises(ValueError, match=words):
        call()
