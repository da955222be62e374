"""What the app shows and the exports save, built from a clean prediction and an attack run:
frames, figures and readouts. Display options (head, colour map, opacity) only touch this
layer, so changing them never reruns the model."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import plotly.graph_objects as go

from model.inference import Prediction

from .analysis import AttackRun
from .animation import frames_animation
from .frames import glance_frames, select_head, side_by_side
from .metrics import attention_shift, peaks
from .overlay import COLORMAPS

__all__ = ["Display", "auto_zoom", "glance_panels", "glance_figure", "drift_panel", "drift_figure",
           "export_frames", "pull_readout", "perturbation_norms"]


@dataclass(frozen=True)
class Display:
    """Display-only choices: ``head`` None is the mean over heads."""

    head: int | None = None
    cmap: str = "inferno"
    alpha: float = 0.6
    zoom: int = 3

    def __post_init__(self) -> None:
        if self.cmap not in COLORMAPS:
            raise ValueError(f"cmap must be one of {sorted(COLORMAPS)}, got {self.cmap!r}")
        if not 0.0 <= self.alpha <= 1.0:
            raise ValueError(f"alpha must be in [0, 1], got {self.alpha}")
        if not isinstance(self.zoom, int) or not 1 <= self.zoom <= 8:
            raise ValueError(f"zoom must be an integer in [1, 8], got {self.zoom!r}")

    @property
    def head_name(self) -> str:
        return "mean over heads" if self.head is None else f"head {self.head}"


def auto_zoom(image_size: int, target: int = 288) -> int:
    """The integer enlargement that draws an image about ``target`` pixels wide: 3 for the
    96 px canvases, 1 for 224 px ImageNet inputs."""
    if not isinstance(image_size, int) or image_size < 1:
        raise ValueError(f"image_size must be a positive integer, got {image_size!r}")
    return max(1, min(8, round(target / image_size)))


def _frame_titles(pred: Prediction, class_names: Sequence[str], run: str) -> list[str]:
    return [f"{run} g{t + 1}: {class_names[int(p.argmax())]} {float(p.max()):.0%}"
            for t, p in enumerate(pred.step_probs)]


def glance_panels(image: np.ndarray, clean: Prediction, attack: AttackRun | None,
                  class_names: Sequence[str], box: tuple[int, int, int, int] | None,
                  display: Display, scanpath: bool = False
                  ) -> tuple[list[np.ndarray], list[str], list[list[str]], list[np.ndarray]]:
    """(panels of (N, H, W, 3) frames, panel titles, per-frame captions, scanpaths (N, 2) in the
    panels' pixels) for the clean image and, when there is one, the adversarial image; with
    ``scanpath`` the path is also drawn into the frames (the exports have no plotly on top)."""
    runs = [("clean", image, clean)]
    if attack is not None:
        runs.append(("adversarial", attack.image, attack.prediction))
    panels, titles, captions, paths = [], [], [], []
    for name, img, pred in runs:
        panels.append(glance_frames(img, pred.attention, display.head, display.zoom, display.cmap,
                                    display.alpha, box, scanpath=scanpath))
        titles.append(f"{name}: {class_names[pred.label]} ({pred.probs.max():.0%})")
        captions.append(_frame_titles(pred, class_names, name))
        size = (img.shape[0] * display.zoom, img.shape[1] * display.zoom)
        paths.append(peaks(select_head(pred.attention, display.head), size))
    return panels, titles, captions, paths


def glance_figure(image: np.ndarray, clean: Prediction, attack: AttackRun | None,
                  class_names: Sequence[str], box: tuple[int, int, int, int] | None,
                  display: Display) -> go.Figure:
    """The glances animated over the clean and adversarial image side by side, scanpath on top."""
    panels, titles, captions, paths = glance_panels(image, clean, attack, class_names, box, display)
    labels = [f"glance {t + 1}" for t in range(panels[0].shape[0])]
    return frames_animation(panels, titles, labels, paths, hover=captions,
                            title=f"Attention per glance ({display.head_name})")


def drift_panel(attack: AttackRun, class_names: Sequence[str], box: tuple[int, int, int, int] | None,
                display: Display) -> tuple[np.ndarray, list[str]]:
    """Frames (S, H, W, 3) of attention (mean over glances) over each attack iterate, captions."""
    d = attack.drift
    maps = d.attention.mean(axis=1)  # (S, heads, h, w): where the whole unroll looks
    frames = np.stack([glance_frames(d.images[s], maps[s][None], display.head, display.zoom,
                                     display.cmap, display.alpha, box, scanpath=False)[0]
                       for s in range(len(d.labels))])
    captions = [f"{lab}: {class_names[int(p.argmax())]} {float(p.max()):.0%}"
                for lab, p in zip(d.labels, d.probs)]
    return frames, captions


def drift_figure(attack: AttackRun, class_names: Sequence[str], box: tuple[int, int, int, int] | None,
                 display: Display) -> go.Figure:
    """The attack's iterates animated, with the attention they draw (mean over glances)."""
    frames, captions = drift_panel(attack, class_names, box, display)
    return frames_animation([frames], ["attention across PGD iterations"], captions, frame_ms=300,
                            title=f"Attention drift during the attack ({display.head_name})")


def export_frames(image: np.ndarray, clean: Prediction, attack: AttackRun | None,
                  class_names: Sequence[str], box: tuple[int, int, int, int] | None,
                  display: Display) -> np.ndarray:
    """(N, H', W', 3) uint8: clean | adversarial per glance with scanpaths and captions, the
    frames of the GIF, WebM and PNG strip."""
    panels, _, captions, _ = glance_panels(image, clean, attack, class_names, box, display, scanpath=True)
    return side_by_side(panels, captions)


def pull_readout(clean: Prediction, attack: AttackRun, image_size: tuple[int, int],
                 box: tuple[int, int, int, int] | None, head: int | None = None) -> dict[str, np.ndarray]:
    """Per glance (N,) for the chosen head (or the head mean): ``js`` divergence, ``com_shift``
    in pixels, and ``mass_clean``/``mass_adv`` in the box when there is one."""
    a = select_head(clean.attention, head)[:, None]
    b = select_head(attack.prediction.attention, head)[:, None]
    shift = attention_shift(a, b, image_size, None if box is None else np.asarray(box))
    return {k: v[:, 0] for k, v in shift.items() if not k.startswith("peaks")}


def perturbation_norms(clean: np.ndarray, adv: np.ndarray) -> dict[str, float]:
    """L-inf (in /255 units), L2, and the fraction of pixel values changed by the attack."""
    delta = np.asarray(adv, np.float64) - np.asarray(clean, np.float64)
    return {"linf_255": float(np.abs(delta).max() * 255), "l2": float(np.sqrt((delta ** 2).sum())),
            "changed": float((np.abs(delta) > 0.5 / 255).mean())}
