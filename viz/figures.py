"""Plotly figures: glance animations (frames, play/pause, a frame slider, the scanpath on top),
the attack's drift, probability curves per glance, and the "computational race" of an
evaluation. They return figures and never show or save themselves."""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import cv2
import numpy as np
import plotly.graph_objects as go

from model.records import AttackRun, Box, GlanceGrid, ImageRace, SquareRun

from .frames import Display, Shown, drift_frames, drift_panel, glance_frames, glance_panels

__all__ = ["image_data_uri", "frames_animation", "probability_figure", "glance_figure", "drift_figure",
           "race_figure", "compare_figure", "grid_figure", "image_race_figure", "query_drift_figure",
           "query_curve_figure"]


def image_data_uri(image: np.ndarray, fmt: str = "jpeg", quality: int = 92) -> str:
    """uint8 (H, W, 3) RGB -> a JPEG (default: 5x faster to encode than PNG, and smaller) or
    PNG data URI, which plotly Image traces draw without shipping pixel arrays."""
    if fmt not in ("jpeg", "png"):
        raise ValueError(f"fmt must be 'jpeg' or 'png', got {fmt!r}")
    params = [cv2.IMWRITE_JPEG_QUALITY, quality] if fmt == "jpeg" else [cv2.IMWRITE_PNG_COMPRESSION, 1]
    ok, buf = cv2.imencode("." + ("jpg" if fmt == "jpeg" else "png"),
                           cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_RGB2BGR), params)
    if not ok:
        raise ValueError(f"{fmt} encoding failed")
    return f"data:image/{fmt};base64," + base64.b64encode(buf.tobytes()).decode("ascii")


def frames_animation(panels: Sequence[np.ndarray], panel_titles: Sequence[str],
                     frame_labels: Sequence[str], paths: Sequence[np.ndarray | None] | None = None,
                     hover: Sequence[Sequence[str]] | None = None, frame_ms: int = 600,
                     title: str | None = None) -> go.Figure:
    """Panels (each (N, H, W, 3) uint8) animated together, one frame per label, with Play /
    Pause buttons and a slider. ``paths[p]`` (N, 2) pixel points are drawn as a scanpath on
    panel p up to the current frame, with ``hover[p][t]`` as hover text.

    The figure is written as plain dicts and built without plotly's per-property validation
    (it dominated the time of a display-only rerun); ``tests/test_viz_figures.py`` checks the
    result against plotly's validator."""
    if not isinstance(frame_ms, int) or not 10 <= frame_ms <= 10_000:
        raise ValueError(f"frame_ms must be an integer in [10, 10000] milliseconds, got {frame_ms!r}")
    n = len(frame_labels)
    if n < 1 or any(p.shape[0] != n for p in panels):
        raise ValueError(f"every panel needs {n} >= 1 frames, got {[p.shape[0] for p in panels]}")
    k = len(panels)
    paths = list(paths) if paths is not None else [None] * k
    if len(paths) != k or len(panel_titles) != k:
        raise ValueError("need one title and one path (or None) per panel")
    uris = [[image_data_uri(p[t]) for t in range(n)] for p in panels]
    gap = 0.03
    width = (1 - gap * (k - 1)) / k
    domains = [[i * (width + gap), i * (width + gap) + width] for i in range(k)]

    def axis(i: int) -> str:
        return "" if i == 0 else str(i + 1)

    def traces(t: int) -> list[dict]:
        out: list[dict] = []
        for p in range(k):
            ax = {"xaxis": f"x{axis(p)}", "yaxis": f"y{axis(p)}"}
            out.append({"type": "image", "source": uris[p][t], "hoverinfo": "skip", **ax})
            if paths[p] is not None:
                pts = np.asarray(paths[p], dtype=float)[: t + 1]
                out.append({"type": "scatter", "x": pts[:, 0].tolist(), "y": pts[:, 1].tolist(),
                            "mode": "lines+markers+text", "text": [str(i + 1) for i in range(t + 1)],
                            "textposition": "top center", "textfont": {"color": "#00c8ff", "size": 10},
                            "hovertext": [hover[p][i] for i in range(t + 1)] if hover else None,
                            "hoverinfo": "text" if hover else "x+y",
                            "line": {"color": "#00c8ff", "width": 2},
                            "marker": {"size": [6] * t + [11], "color": "#00c8ff"},
                            "showlegend": False, **ax})
        return out

    data = traces(0)
    frames = [{"data": traces(t), "name": str(t), "traces": list(range(len(data)))} for t in range(n)]
    play = {"frame": {"duration": frame_ms, "redraw": True}, "fromcurrent": True,
            "transition": {"duration": 0}}
    layout: dict = {
        "title": {"text": title} if title else None,
        "margin": {"l": 10, "r": 10, "t": 70 if title else 40, "b": 60},
        "height": int(panels[0].shape[1] * max(1.0, 2.0 / k) + 220), "plot_bgcolor": "white",
        "annotations": [{"text": panel_titles[i], "x": sum(domains[i]) / 2, "y": 1.0, "xref": "paper",
                         "yref": "paper", "xanchor": "center", "yanchor": "bottom", "showarrow": False,
                         "font": {"size": 14}} for i in range(k)],
        "updatemenus": [{"type": "buttons", "direction": "left", "x": 0.0, "y": -0.02,
                         "xanchor": "left", "yanchor": "top", "showactive": False,
                         "buttons": [{"label": "Play", "method": "animate", "args": [None, play]},
                                     {"label": "Pause", "method": "animate",
                                      "args": [[None], {"frame": {"duration": 0, "redraw": False},
                                                        "mode": "immediate"}]}]}],
        "sliders": [{"active": 0, "x": 0.16, "len": 0.76, "y": -0.02, "yanchor": "top",
                     "currentvalue": {"prefix": "", "xanchor": "right"},
                     "steps": [{"label": frame_labels[t], "method": "animate",
                                "args": [[str(t)], {"frame": {"duration": 0, "redraw": True},
                                                    "mode": "immediate"}]} for t in range(n)]}]}
    for i in range(k):
        layout[f"xaxis{axis(i)}"] = {"domain": domains[i], "visible": False, "anchor": f"y{axis(i)}"}
        layout[f"yaxis{axis(i)}"] = {"domain": [0, 1], "visible": False, "autorange": "reversed",
                                     "anchor": f"x{axis(i)}", "scaleanchor": f"x{axis(i)}"}
    if not title:
        del layout["title"]
    return go.Figure({"data": data, "layout": layout, "frames": frames}, _validate=False)


def probability_figure(curves: dict[str, np.ndarray], class_names: Sequence[str],
                       classes: Sequence[int], x_title: str = "glance") -> go.Figure:
    """Class probabilities over glances (or attack steps): ``curves`` maps a run name
    ("clean", "adversarial") to (N, C) probabilities; one line per run and class in ``classes``."""
    fig = go.Figure()
    dashes = ["solid", "dash", "dot"]
    for r, (run, probs) in enumerate(curves.items()):
        x = np.arange(1, probs.shape[0] + 1)
        for k, c in enumerate(classes):
            fig.add_trace(go.Scatter(x=x, y=probs[:, c], mode="lines+markers",
                                     name=f"{class_names[c]} ({run})", legendgroup=run,
                                     line={"dash": dashes[r % 3], "color": _colour(k)}))
    fig.update_layout(xaxis={"title": {"text": x_title}, "tick0": 1, "dtick": 1}, yaxis_title="probability",
                      yaxis_range=[0, 1], template="plotly_white", height=320,
                      margin={"l": 10, "r": 10, "t": 30, "b": 10})
    return fig


def _colour(k: int) -> str:
    palette = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2",
               "#7f7f7f", "#bcbd22", "#17becf"]
    return palette[k % len(palette)]


def glance_figure(shown: Shown, display: Display) -> go.Figure:
    """The glances animated over the clean and adversarial image side by side, scanpath on top."""
    panels, titles, captions, paths = glance_panels(shown, display)
    labels = [f"glance {t + 1}" for t in range(panels[0].shape[0])]
    return frames_animation(panels, titles, labels, paths, hover=captions,
                            title=f"Attention per glance ({display.head_name})")


def drift_figure(attack: AttackRun, class_names: Sequence[str], box: Box | None,
                 display: Display) -> go.Figure:
    """The attack's iterates animated, with the attention they draw (mean over glances)."""
    frames, captions = drift_panel(attack, class_names, box, display)
    return frames_animation([frames], ["attention across PGD iterations"], captions, frame_ms=300,
                            title=f"Attention drift during the attack ({display.head_name})")


def race_figure(rows: Sequence[dict[str, Any]], eps: float, target: str) -> go.Figure:
    """Accuracy against attack steps, one line per (model, glance count): the paper's
    "computational race" plot. ``rows`` are evaluation-grid rows (keys model, glances, target,
    eps_255, steps, acc)."""
    fig = go.Figure()
    keys = sorted({(r["model"], r["glances"]) for r in rows if r["eps_255"] == eps and r["target"] == target})
    for model, glances in keys:
        pts = sorted((r["steps"], r["acc"]) for r in rows if r["model"] == model and
                     r["glances"] == glances and r["eps_255"] == eps and r["target"] == target)
        label = f"{model}, {glances} glance{'s' if glances > 1 else ''}"
        dash = "dash" if "baseline" in model else "solid"
        fig.add_trace(go.Scatter(x=[p[0] for p in pts], y=[p[1] for p in pts], mode="lines+markers",
                                 name=label, line={"dash": dash}))
    fig.update_layout(title=f"Accuracy under PGD ({target} target, eps {eps:g}/255) vs attack steps",
                      xaxis_title="attack steps", yaxis_title="accuracy", yaxis_range=[0, 1],
                      template="plotly_white", legend_title="model")
    return fig


def compare_figure(runs: Sequence[tuple[str, bool, AttackRun]], class_names: Sequence[str],
                   box: Box | None, display: Display) -> go.Figure:
    """The adversarial image of each model (name, has attention, run) with its glances animated
    side by side; a model without attention shows its adversarial image alone in every frame."""
    n = max(r.prediction.attention.shape[0] for _, _, r in runs)
    panels, titles, hover = [], [], []
    for name, has_attention, run in runs:
        pred = run.prediction
        look = display if has_attention else replace(display, head=None, alpha=0.0)  # the image alone
        frames = glance_frames(run.image, pred.attention, look, box, scanpath=False)
        panels.append(np.concatenate([frames, np.repeat(frames[-1:], n - frames.shape[0], axis=0)]))
        verdict = "reached" if run.success else "missed"
        goal = run.goal(class_names)
        titles.append(f"{name}: {class_names[pred.label]} ({pred.probs.max():.0%}), {verdict} {goal}"
                      + ("" if has_attention else " (no attention)"))
        last = len(pred.step_probs) - 1
        hover.append([f"{name} g{t + 1}: {class_names[int(pred.step_probs[min(t, last)].argmax())]}"
                      for t in range(n)])
    return frames_animation(panels, titles, [f"glance {t + 1}" for t in range(n)], hover=hover,
                            title="The same attack on each model (adversarial images)")


def grid_figure(grid: GlanceGrid, class_names: Sequence[str]) -> go.Figure:
    """Attacker glances (rows) against defender glances (columns): the true class's probability
    as colour, the predicted class as text; a first row for the clean image."""
    z = np.vstack([grid.clean_probs[None], grid.true_probs])
    rows = ["clean"] + [f"crafted at {n}" for n in grid.crafted]
    true = class_names[grid.label]
    text = [[true] * len(grid.evaluated)] + [[class_names[int(c)] for c in row] for row in grid.predicted]
    data = [{"type": "heatmap", "z": z.tolist(), "x": [f"read at {m}" for m in grid.evaluated], "y": rows,
             "zmin": 0, "zmax": 1, "colorscale": "Viridis", "text": text,
             "texttemplate": f"reads %{{text}}<br>P({true}) %{{z:.2f}}",
             "colorbar": {"title": {"text": f"P({true})"}},
             "hovertemplate": f"%{{y}}, %{{x}}: the model reads %{{text}}; P({true}) = %{{z:.3f}}<extra></extra>"}]
    layout = {"title": {"text": f"Does thinking longer recover {class_names[grid.label]}? "
                                "(attack crafted against N glances, read at M)"},
              "yaxis": {"autorange": "reversed"}, "template": "plotly_white", "height": 360,
              "margin": {"l": 10, "r": 10, "t": 50, "b": 10}}
    return go.Figure({"data": data, "layout": layout}, _validate=False)


def image_race_figure(race: ImageRace, class_names: Sequence[str]) -> go.Figure:
    """The true class's probability against attack steps, one line per glance count."""
    data = [{"type": "scatter", "mode": "lines+markers", "x": list(race.steps), "y": race.true_probs[i].tolist(),
             "name": f"{g} glance{'s' if g > 1 else ''}", "line": {"color": _colour(i)}}
            for i, g in enumerate(race.glances)]
    layout = {"title": {"text": f"The race on this image: P({class_names[race.label]}) under an attack aimed at "
                                "each glance count"},
              "xaxis": {"title": {"text": "attack steps"}}, "yaxis": {"title": {"text": "probability"},
                                                                      "range": [0, 1]},
              "template": "plotly_white", "height": 360, "legend": {"title": {"text": "glances"}},
              "margin": {"l": 10, "r": 10, "t": 50, "b": 10}}
    return go.Figure({"data": data, "layout": layout}, _validate=False)


def query_drift_figure(run: SquareRun, class_names: Sequence[str], box: Box | None, display: Display,
                       has_attention: bool) -> go.Figure:
    """A black-box attack's best iterates animated over its queries, with the last glance's
    attention on each (the images alone for a model without attention)."""
    look = display if has_attention else replace(display, alpha=0.0)
    frames, captions = drift_frames(run.drift, class_names, box, look, glance=-1)
    what = f"attention at glance {run.drift.attention.shape[1]}" if has_attention else "no attention"
    return frames_animation([frames], [f"best iterate across Square queries ({what})"], captions, frame_ms=300,
                            title=f"Attention drift over the queries ({display.head_name})" if has_attention
                            else "The image over the queries")


def query_curve_figure(run: SquareRun, class_names: Sequence[str]) -> go.Figure:
    """The probability of the attacked label (and of the target, when there is one) at the best
    iterate, against the queries spent (log scale)."""
    queries = [0 if lab == "clean" else int(lab.split()[1]) for lab in run.drift.labels]
    x = [max(q, 0.8) for q in queries]  # the clean image drawn just left of query 1 on the log axis
    data = [{"type": "scatter", "mode": "lines+markers", "x": x, "y": run.drift.probs[:, run.label].tolist(),
             "name": f"P({class_names[run.label]}), the label attacked", "line": {"color": _colour(0)},
             "text": run.drift.labels, "hovertemplate": "%{text}: %{y:.3f}<extra></extra>"}]
    if run.config.target != "untargeted":
        data.append({"type": "scatter", "mode": "lines+markers", "x": x, "y": run.drift.probs[:, run.target].tolist(),
                     "name": f"P({class_names[run.target]}), the target", "line": {"color": _colour(1)},
                     "text": run.drift.labels, "hovertemplate": "%{text}: %{y:.3f}<extra></extra>"})
    layout = {"title": {"text": "Class probabilities at the best iterate over the queries"},
              "xaxis": {"title": {"text": "queries (log scale; the clean image at the left)"}, "type": "log"},
              "yaxis": {"title": {"text": "probability"}, "range": [0, 1]}, "template": "plotly_white",
              "height": 340, "margin": {"l": 10, "r": 10, "t": 50, "b": 10}}
    return go.Figure({"data": data, "layout": layout}, _validate=False)
