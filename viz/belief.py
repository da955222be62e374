"""The belief's path drawn on the model's stored plane, over the classes' clouds: a plotly figure
for the page, and the same picture as a uint8 array for the PNG export."""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np
import plotly.graph_objects as go

from model.records import BeliefPath

from .figures import _colour

__all__ = ["belief_figure", "belief_image", "PATH_STYLES"]

# the clean path solid and dark, the adversarial one dashed and red: told apart without colour too
PATH_STYLES = {"clean": ("#222222", "solid"), "adversarial": ("#d62728", "dash")}


def _style(name: str, i: int) -> tuple[str, str]:
    return PATH_STYLES.get(name, (_colour(i + 2), "dot"))


def belief_figure(clouds: np.ndarray, paths: Sequence[tuple[str, BeliefPath]], class_names: Sequence[str],
                  title: str | None = None) -> go.Figure:
    """``clouds`` (C, P, 2) drawn as faint points per class, then each named path as a line through
    its glances, each point numbered by its glance and filled with the colour of the class read
    after that glance (the class's cloud colour). Equal scales on both axes: distances read true."""
    fig = go.Figure()
    for c, cloud in enumerate(clouds):
        fig.add_trace(go.Scatter(x=cloud[:, 0].tolist(), y=cloud[:, 1].tolist(), mode="markers", name=class_names[c],
                                 legendgroup="clouds", legendgrouptitle_text="class clouds",
                                 marker={"color": _colour(c), "size": 4, "opacity": 0.25},
                                 hovertemplate=f"{class_names[c]} (test canvas)<extra></extra>"))
    for i, (name, path) in enumerate(paths):
        colour, dash = _style(name, i)
        glances = np.arange(1, len(path.points) + 1)
        hover = [f"{name}, glance {t}: {class_names[int(c)]} ({p:.0%})"
                 for t, c, p in zip(glances, path.predicted, path.confidence)]
        fig.add_trace(go.Scatter(x=path.points[:, 0].tolist(), y=path.points[:, 1].tolist(), mode="lines+markers+text",
                                 name=name, legendgroup="paths", legendgrouptitle_text="paths",
                                 line={"color": colour, "dash": dash, "width": 2},
                                 marker={"size": 16, "color": [_colour(int(c)) for c in path.predicted],
                                         "line": {"color": colour, "width": 2}},
                                 text=[str(t) for t in glances], textfont={"color": "white", "size": 9},
                                 textposition="middle center", hovertext=hover, hoverinfo="text"))
    fig.update_layout(title={"text": title or "The belief after each glance"}, template="plotly_white", height=620,
                      xaxis={"title": {"text": "PC 1"}, "zeroline": False},
                      yaxis={"title": {"text": "PC 2"}, "zeroline": False, "scaleanchor": "x", "scaleratio": 1},
                      margin={"l": 10, "r": 10, "t": 50, "b": 10}, legend={"groupclick": "toggleitem"})
    return fig


def _rgb(hex_colour: str) -> tuple[int, int, int]:
    h = hex_colour.lstrip("#")
    return int(h[0:2], 16), int(h[2:4], 16), int(h[4:6], 16)


def _dashed(image: np.ndarray, a: np.ndarray, b: np.ndarray, colour: tuple[int, int, int], dash: bool) -> None:
    if not dash:
        cv2.line(image, tuple(map(int, a)), tuple(map(int, b)), colour, 2, cv2.LINE_AA)
        return
    length = float(np.hypot(*(b - a)))
    pieces = max(1, int(length // 8))
    for k in range(0, pieces, 2):
        p, q = a + (b - a) * k / pieces, a + (b - a) * min(k + 1, pieces) / pieces
        cv2.line(image, tuple(map(int, p)), tuple(map(int, q)), colour, 2, cv2.LINE_AA)


def belief_image(clouds: np.ndarray, paths: Sequence[tuple[str, BeliefPath]], class_names: Sequence[str],
                 size: int = 720, legend: int = 170) -> np.ndarray:
    """The picture of ``belief_figure`` as (size, size + legend, 3) uint8 RGB on white: the clouds,
    the paths with numbered glances, and a legend of classes and paths on the right."""
    points = np.concatenate([clouds.reshape(-1, 2)] + [p.points for _, p in paths])
    lo, hi = points.min(axis=0), points.max(axis=0)
    span = float(max((hi - lo).max(), 1e-9))
    centre = (lo + hi) / 2
    margin = 24

    def at(xy: np.ndarray) -> np.ndarray:  # plane -> pixels, equal scales, y up
        u = (np.asarray(xy, np.float64) - centre) / span * (size - 2 * margin)
        return np.stack([size / 2 + u[..., 0], size / 2 - u[..., 1]], axis=-1)

    image = np.full((size, size + legend, 3), 255, np.uint8)
    faint = image.copy()
    for c, cloud in enumerate(clouds):
        for p in at(cloud):
            cv2.circle(faint, tuple(map(int, p)), 2, _rgb(_colour(c)), -1, cv2.LINE_AA)
    image = cv2.addWeighted(faint, 0.45, image, 0.55, 0)
    for i, (name, path) in enumerate(paths):
        colour, dash = _style(name, i)
        pixels = at(path.points)
        for a, b in zip(pixels[:-1], pixels[1:]):
            _dashed(image, a, b, _rgb(colour), dash != "solid")
        for t, (p, c) in enumerate(zip(pixels, path.predicted)):
            centre_px = tuple(map(int, p))
            cv2.circle(image, centre_px, 9, _rgb(_colour(int(c))), -1, cv2.LINE_AA)
            cv2.circle(image, centre_px, 9, _rgb(colour), 2, cv2.LINE_AA)
            text = str(t + 1)
            (w, h), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, 0.35, 1)
            cv2.putText(image, text, (centre_px[0] - w // 2, centre_px[1] + h // 2), cv2.FONT_HERSHEY_SIMPLEX, 0.35,
                        (255, 255, 255), 1, cv2.LINE_AA)
    x0, y = size + 8, 20
    for c, name in enumerate(class_names[:len(clouds)]):
        cv2.circle(image, (x0 + 6, y - 4), 5, _rgb(_colour(c)), -1, cv2.LINE_AA)
        cv2.putText(image, name[:18], (x0 + 16, y), cv2.FONT_HERSHEY_SIMPLEX, 0.42, (30, 30, 30), 1, cv2.LINE_AA)
        y += 20
    y += 10
    for i, (name, _) in enumerate(paths):
        colour, dash = _style(name, i)
        _dashed(image, np.array([x0, y - 4.0]), np.array([x0 + 30, y - 4.0]), _rgb(colour), dash != "solid")
        cv2.putText(image, name[:16], (x0 + 36, y), cv2.FONT_HERSHEY_SIMPLEX, 0.42, (30, 30, 30), 1, cv2.LINE_AA)
        y += 20
    cv2.putText(image, "PC 1 ->, PC 2 ^; n = glance", (8, size - 8), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (90, 90, 90), 1,
                cv2.LINE_AA)
    return image
