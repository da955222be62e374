"""Arrays to draw: attention over an image per glance (with the scanpath and the object's box),
side-by-side panels with captions, the amplified perturbation, attributions over the image.

Pure functions on arrays: images are (H, W, 3) float in [0, 1] or uint8, attention (N, heads,
h, w); every function returns uint8 arrays and shows or saves nothing. ``Display`` holds the
display-only choices, so changing them never reruns a model.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import cv2
import numpy as np

from model.inference import Prediction
from model.metrics import peaks, select_head
from model.records import AttackRun, Box, Drift, SquareRun

__all__ = ["COLORMAPS", "Display", "auto_zoom", "to_uint8", "upsample", "heatmap", "overlay", "draw_box",
           "enlarge", "glance_frames", "caption", "side_by_side", "amplified_perturbation",
           "attribution_image", "Shown", "glance_panels", "drift_frames", "drift_panel", "export_frames",
           "glance_sheet", "no_attention_panel", "heads_sheet", "compare_panels", "black_box_sheet"]

COLORMAPS = {"inferno": cv2.COLORMAP_INFERNO, "viridis": cv2.COLORMAP_VIRIDIS,
             "jet": cv2.COLORMAP_JET, "magma": cv2.COLORMAP_MAGMA}


def to_uint8(image: np.ndarray) -> np.ndarray:
    """float in [0, 1] (H, W, 3) -> uint8 (H, W, 3)."""
    return (np.clip(image, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def upsample(attention: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """(h, w) map -> (H, W) float, bilinear, rescaled to keep its total mass."""
    if len(size) != 2 or min(size) < 1:
        raise ValueError(f"size must be (H, W) with both >= 1, got {size!r}")
    a = np.asarray(attention, dtype=np.float32)
    up = cv2.resize(a, (size[1], size[0]), interpolation=cv2.INTER_LINEAR)
    return up * (a.sum() / max(float(up.sum()), 1e-12))


def _colour(up: np.ndarray, top: float, cmap: str) -> tuple[np.ndarray, np.ndarray]:
    """(RGB uint8 colours, scaled map in [0, 1]) of an upsampled map with ``top`` as full colour."""
    if cmap not in COLORMAPS:
        raise ValueError(f"cmap must be one of {sorted(COLORMAPS)}, got {cmap!r}")
    scaled = np.clip(up * (1.0 / max(top, 1e-12)), 0.0, 1.0)
    bgr = cv2.applyColorMap((scaled * 255).astype(np.uint8), COLORMAPS[cmap])
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), scaled


def heatmap(attention: np.ndarray, size: tuple[int, int], cmap: str = "inferno",
            vmax: float | None = None) -> np.ndarray:
    """(h, w) map -> (H, W, 3) uint8 colour image, scaled to [0, vmax] (default: the map's max)."""
    up = upsample(attention, size)
    return _colour(up, float(up.max()) if vmax is None else vmax, cmap)[0]


def overlay(image: np.ndarray, attention: np.ndarray, alpha: float = 0.6, cmap: str = "inferno",
            vmax: float | None = None) -> np.ndarray:
    """Blend the attention heatmap over ``image`` ((H, W, 3) float in [0, 1]) -> uint8 (H, W, 3).

    Opacity follows attention, so unattended regions show the image itself.
    """
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be in [0, 1], got {alpha}")
    h, w = image.shape[:2]
    up = upsample(attention, (h, w))
    colour, scaled = _colour(up, float(up.max()) if vmax is None else vmax, cmap)
    weight = (alpha * scaled)[..., None].astype(np.float32)
    blended = image.astype(np.float32, copy=False) * (1 - weight) + colour.astype(np.float32) * (weight / 255.0)
    return to_uint8(blended)


def draw_box(image: np.ndarray, box: Box, colour=(0, 255, 0),
             thickness: int = 1) -> np.ndarray:
    """Copy of a uint8 (H, W, 3) image with the half-open box (x0, y0, x1, y1) outlined."""
    if not isinstance(thickness, int) or thickness < 1:
        raise ValueError(f"thickness must be an integer >= 1 pixels, got {thickness!r}")
    out = np.ascontiguousarray(image).copy()
    x0, y0, x1, y1 = (int(v) for v in box)
    cv2.rectangle(out, (x0, y0), (x1 - 1, y1 - 1), colour, thickness)
    return out


def enlarge(image: np.ndarray, factor: int) -> np.ndarray:
    """Nearest-neighbour enlargement (H, W, C) -> (H*f, W*f, C), so small canvases stay crisp."""
    if not isinstance(factor, int) or factor < 1:
        raise ValueError(f"factor must be a positive integer, got {factor!r}")
    return np.repeat(np.repeat(image, factor, axis=0), factor, axis=1)


BOX_COLOUR = (0, 255, 0)
PATH_COLOUR = (0, 200, 255)


def glance_frames(image: np.ndarray, attention: np.ndarray, display: Display | None = None,
                  box: Box | None = None, scanpath: bool = True, shared_scale: bool = False) -> np.ndarray:
    """One frame per glance: (N, H*zoom, W*zoom, 3) uint8 from an (H, W, 3) image in [0, 1] and
    attention (N, heads, h, w), drawn with ``display``'s head, zoom, colour map and opacity. The
    scanpath joins the peaks of glances 1..t. With ``shared_scale`` every frame uses the largest
    attention value of the run as full colour."""
    if attention.ndim != 4:
        raise ValueError(f"attention must be (N, heads, h, w), got shape {attention.shape}")
    display = display or Display()
    zoom, cmap, alpha = display.zoom, display.cmap, display.alpha
    maps = select_head(attention, display.head)
    big = enlarge(np.asarray(image, dtype=np.float32), zoom)
    size = big.shape[:2]
    points = np.round(peaks(maps, size)).astype(int)  # (N, 2) x, y
    vmax = float(maps.max()) if shared_scale else None
    frames = []
    for t in range(maps.shape[0]):
        frame = overlay(big, maps[t], alpha=alpha, cmap=cmap, vmax=vmax)
        if box is not None:
            frame = draw_box(frame, Box(*box).scaled(zoom), BOX_COLOUR, max(1, zoom // 2))
        if scanpath:
            for a, b in zip(points[:t], points[1:t + 1]):
                cv2.line(frame, tuple(map(int, a)), tuple(map(int, b)), PATH_COLOUR, 1, cv2.LINE_AA)
            for i, p in enumerate(points[:t + 1]):
                cv2.circle(frame, tuple(map(int, p)), 3 if i == t else 2, PATH_COLOUR,
                           -1 if i == t else 1, cv2.LINE_AA)
        frames.append(frame)
    return np.stack(frames)


def caption(frame: np.ndarray, text: str, height: int = 18) -> np.ndarray:
    """``frame`` with a black strip above it holding ``text`` in white."""
    strip = np.zeros((height, frame.shape[1], 3), np.uint8)
    scale = max(0.35, min(0.5, frame.shape[1] / 600))
    cv2.putText(strip, text[:80], (3, height - 5), cv2.FONT_HERSHEY_SIMPLEX, scale,
                (255, 255, 255), 1, cv2.LINE_AA)
    return np.concatenate([strip, frame], axis=0)


def side_by_side(panels: Sequence[np.ndarray], titles: Sequence[Sequence[str]], gap: int = 4
                 ) -> np.ndarray:
    """Panels (P of (N, H, W, 3)) -> (N, H', P*W + gaps, 3) frames, panel p of frame t captioned
    ``titles[p][t]``."""
    if len({p.shape for p in panels}) != 1:
        raise ValueError(f"panels differ in shape: {[p.shape for p in panels]}")
    n = panels[0].shape[0]
    if any(len(t) != n for t in titles) or len(titles) != len(panels):
        raise ValueError("need one title per panel and frame")
    out = []
    for t in range(n):
        cols = [caption(panel[t], titles[p][t]) for p, panel in enumerate(panels)]
        spacer = np.zeros((cols[0].shape[0], gap, 3), np.uint8)
        row = [cols[0]]
        for c in cols[1:]:
            row += [spacer, c]
        out.append(np.concatenate(row, axis=1))
    return np.stack(out)


def amplified_perturbation(clean: np.ndarray, adv: np.ndarray, zoom: int = 3) -> tuple[np.ndarray, float]:
    """The perturbation as a uint8 picture, grey = 0, scaled so its largest entry reaches
    black or white; also returns the gain applied."""
    delta = np.asarray(adv, np.float32) - np.asarray(clean, np.float32)
    top = float(np.abs(delta).max())
    gain = 0.5 / top if top > 0 else 1.0
    picture = np.clip(0.5 + delta * gain, 0, 1)
    return enlarge((picture * 255 + 0.5).astype(np.uint8), zoom), gain


def attribution_image(attribution: np.ndarray, image: np.ndarray, zoom: int = 3, cmap: str = "inferno",
                      alpha: float = 0.7, clip_percentile: float = 99.0) -> np.ndarray:
    """An (H, W) non-negative attribution map drawn over the image, uint8. Gradients are spiky:
    scaled to its own ``clip_percentile`` (the few larger values saturate) and lightly smoothed,
    so the map reads as regions, like the attention, rather than a few bright pixels."""
    a = np.asarray(attribution, np.float32)
    if a.shape != image.shape[:2]:
        raise ValueError(f"attribution {a.shape} does not match the image {image.shape[:2]}")
    if not 50.0 <= clip_percentile <= 100.0:
        raise ValueError(f"clip_percentile must be in [50, 100], got {clip_percentile}")
    a = cv2.GaussianBlur(a, (0, 0), sigmaX=max(a.shape) / 96)
    top = float(np.percentile(a, clip_percentile))
    big = enlarge(np.asarray(image, np.float32), zoom)
    return overlay(big, enlarge(a[..., None], zoom)[..., 0], alpha=alpha, cmap=cmap, vmax=top if top > 0 else None)


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


@dataclass(frozen=True)
class Shown:
    """What is shown: an (H, W, 3) image in [0, 1], its clean prediction, the attack on it (or
    None), the model's class names and the object's box (or None)."""

    image: np.ndarray
    clean: Prediction
    attack: AttackRun | None
    class_names: Sequence[str]
    box: Box | None = None


def glance_panels(shown: Shown, display: Display, scanpath: bool = False
                  ) -> tuple[list[np.ndarray], list[str], list[list[str]], list[np.ndarray]]:
    """(panels of (N, H, W, 3) frames, panel titles, per-frame captions, scanpaths (N, 2) in the
    panels' pixels) for the clean image and, when there is one, the adversarial image; with
    ``scanpath`` the path is also drawn into the frames (the exports have no plotly on top)."""
    class_names, attack = shown.class_names, shown.attack
    runs = [("clean", shown.image, shown.clean)]
    if attack is not None:
        runs.append(("adversarial", attack.image, attack.prediction))
    panels, titles, captions, paths = [], [], [], []
    for name, img, pred in runs:
        panels.append(glance_frames(img, pred.attention, display, shown.box, scanpath=scanpath))
        titles.append(f"{name}: {class_names[pred.label]} ({pred.probs.max():.0%})")
        captions.append(_frame_titles(pred, class_names, name))
        size = (img.shape[0] * display.zoom, img.shape[1] * display.zoom)
        paths.append(peaks(select_head(pred.attention, display.head), size))
    return panels, titles, captions, paths


def drift_frames(drift: Drift, class_names: Sequence[str], box: Box | None, display: Display,
                 glance: int | None = None) -> tuple[np.ndarray, list[str]]:
    """Frames (S, H, W, 3) of the attention over each iterate of an attack, and captions (its
    label, class, probability). ``glance`` None draws the mean over glances (where the whole
    unroll looks), an index that glance's map (-1: the last)."""
    maps = drift.attention.mean(axis=1) if glance is None else drift.attention[:, glance]  # (S, heads, h, w)
    frames = np.stack([glance_frames(drift.images[s], maps[s][None], display, box, scanpath=False)[0]
                       for s in range(len(drift.labels))])
    captions = [f"{lab}: {class_names[int(p.argmax())]} {float(p.max()):.0%}"
                for lab, p in zip(drift.labels, drift.probs)]
    return frames, captions


def drift_panel(attack: AttackRun, class_names: Sequence[str], box: Box | None,
                display: Display) -> tuple[np.ndarray, list[str]]:
    """Frames (S, H, W, 3) of attention (mean over glances) over each attack iterate, captions."""
    return drift_frames(attack.drift, class_names, box, display)


def export_frames(shown: Shown, display: Display) -> np.ndarray:
    """(N, H', W', 3) uint8: clean | adversarial per glance with scanpaths and captions, the
    frames of the GIF, WebM and PNG strip."""
    panels, _, captions, _ = glance_panels(shown, display, scanpath=True)
    return side_by_side(panels, captions)


def _grid(cells: Sequence[Sequence[np.ndarray]], gap: int = 4) -> np.ndarray:
    """Rows of equally sized uint8 cells on white, ``gap`` pixels apart."""
    h, w = cells[0][0].shape[:2]
    cols = max(len(r) for r in cells)
    sheet = np.full((len(cells) * h + (len(cells) - 1) * gap, cols * w + (cols - 1) * gap, 3), 255, np.uint8)
    for r, row in enumerate(cells):
        for c, cell in enumerate(row):
            sheet[r * (h + gap): r * (h + gap) + h, c * (w + gap): c * (w + gap) + w] = cell
    return sheet


def glance_sheet(shown: Shown, display: Display) -> np.ndarray:
    """One uint8 picture that reads at a glance: the clean row over the adversarial row, one
    column per glance, each panel captioned with its glance, class and probability."""
    panels, _, captions, _ = glance_panels(shown, display, scanpath=True)
    return _grid([[caption(panel[t], captions[p][t]) for t in range(panel.shape[0])]
                  for p, panel in enumerate(panels)])


def heads_sheet(image: np.ndarray, attention: np.ndarray, display: Display, box: Box | None = None) -> np.ndarray:
    """Every head side by side: one row per head, one column per glance, each panel that head's
    map alone over the image (uint8). Shows what the head mean hides: heads that split the work."""
    if attention.ndim != 4:
        raise ValueError(f"attention must be (N, heads, h, w), got shape {attention.shape}")
    rows = []
    for h in range(attention.shape[1]):
        frames = glance_frames(image, attention, replace(display, head=h), box, scanpath=False)
        rows.append([caption(f, f"head {h} g{t + 1}") for t, f in enumerate(frames)])
    return _grid(rows)


def no_attention_panel(size: tuple[int, int], text: str = "no attention maps") -> np.ndarray:
    """A grey panel saying why there is no attention to draw (e.g. a pooling baseline)."""
    panel = np.full((size[0], size[1], 3), 64, np.uint8)
    for i, line in enumerate(text.split("\n")):
        cv2.putText(panel, line[:40], (6, 24 + 18 * i), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (230, 230, 230), 1,
                    cv2.LINE_AA)
    return panel


def compare_panels(image: np.ndarray, runs: Sequence[tuple[str, bool, AttackRun]], class_names: Sequence[str],
                   box: Box | None, display: Display) -> tuple[np.ndarray, list[str]]:
    """The paper's Figure 1 for one image: per model (name, has attention, its attack run) a row
    of the adversarial image, the amplified perturbation (each with its own gain) and the
    attention over the adversarial image (mean over glances; a grey panel for a model without
    attention). Returns the uint8 sheet and one caption per row."""
    rows, notes = [], []
    for name, has_attention, run in runs:
        adv = to_uint8(enlarge(np.asarray(run.image, np.float32), display.zoom))
        delta, gain = amplified_perturbation(image, run.image, display.zoom)
        if has_attention:
            mean_map = run.prediction.attention.mean(axis=0, keepdims=True)  # (1, heads, h, w)
            look = glance_frames(run.image, mean_map, display, box, scanpath=False)[0]
        else:
            look = no_attention_panel(adv.shape[:2], "no attention maps:\nglobal average pooling")
        pred = run.prediction
        verdict = "reached" if run.success else "missed"
        goal = run.goal(class_names)
        rows.append([caption(adv, f"{name}: {class_names[pred.label]} {pred.probs.max():.0%}"),
                     caption(delta, f"perturbation x{gain:.0f}"),
                     caption(look, "attention (mean over glances)" if has_attention else "attention")])
        notes.append(f"{name}: predicts {class_names[pred.label]} ({pred.probs.max():.0%}); the attack "
                     f"{verdict} {goal}" + (f" against {run.glances} glance{'s' if run.glances > 1 else ''}"
                                            if has_attention else ""))
    return _grid(rows), notes


def black_box_sheet(image: np.ndarray, clean: Prediction, run: SquareRun, class_names: Sequence[str],
                    box: Box | None, display: Display, has_attention: bool) -> np.ndarray:
    """One uint8 picture of a black-box attack: the clean image and the adversarial image, each
    with the last glance's attention (the image alone, captioned, for a model without attention),
    and the amplified perturbation."""
    look = display if has_attention else replace(display, alpha=0.0)  # no map to draw: the image alone
    cells = []
    for name, img, pred in (("clean", image, clean), ("adversarial", run.image, run.prediction)):
        last = pred.attention[-1:]  # (1, heads, h, w)
        panel = glance_frames(img, last, look, box, scanpath=False)[0]
        where = f", glance {pred.attention.shape[0]}" if has_attention else ", no attention"
        cells.append(caption(panel, f"{name}: {class_names[pred.label]} {pred.probs.max():.0%}{where}"))
    delta, gain = amplified_perturbation(image, run.image, display.zoom)
    cells.append(caption(delta, f"perturbation x{gain:.0f}"))
    return _grid([cells])
