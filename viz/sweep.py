"""The strength sweep drawn: what each model does as the budget grows, as lines (a plotly figure)
and as a strip of small maps (a uint8 sheet, one row per model, one column per budget)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from model.records import Box, StrengthSweep

from .figures import _colour
from .frames import (
    Display,
    _grid,
    auto_zoom,
    caption,
    draw_box,
    enlarge,
    glance_frames,
    no_attention_panel,
    to_uint8,
)

__all__ = ["sweep_figure", "sweep_strip"]

DASHES = ("solid", "dash", "dot", "dashdot")


def _budget_labels(sweep: StrengthSweep) -> list[str]:
    return [f"{b:g}" for b in sweep.budgets_255]


def sweep_figure(sweeps: Sequence[StrengthSweep], class_names: Sequence[str], box_share: float | None = None,
                 title: str | None = None) -> go.Figure:
    """Four panels against the budget (/255, one tick per budget): whether the attack reached its
    goal, P(true class), P(target), and the attention mass in the item's box; one line per model.
    ``box_share`` (the box's share of the image: what uniform attention puts there) is drawn dotted
    on the mass panel. A model without attention, an untargeted attack or an image without a box
    leaves its line out of the panel that does not apply, and the panel's title says why."""
    first = sweeps[0]
    target = class_names[first.target] if first.targeted else None
    has_box = first.mass is not None
    attending = [s for s in sweeps if s.has_attention]
    titles = ["attack reached its goal", f"P({class_names[first.label]}), the true class",
              f"P({target}), the target" if target else "P(target): untargeted attack, no target",
              "attention mass in the item's box (mean over glances and heads)" if has_box and attending else
              ("attention mass in the box: no box on this image" if not has_box else
               "attention mass in the box: no model here has attention")]
    fig = make_subplots(rows=2, cols=2, subplot_titles=titles, horizontal_spacing=0.08, vertical_spacing=0.16)
    for i, s in enumerate(sweeps):
        x = _budget_labels(s)
        line = {"color": _colour(i), "dash": DASHES[i % len(DASHES)]}
        hover = [f"{s.model_name}, eps {b}/255: reads {class_names[int(c)]} ({p:.0%})"
                 for b, c, p in zip(x, s.predicted, s.probs.max(axis=1))]
        series = [(1, 1, s.success.astype(float)), (1, 2, s.true_probs), (2, 1, s.target_probs),
                  (2, 2, s.mass if s.has_attention else None)]
        for k, (row, col, y) in enumerate(series):
            if y is None:
                continue
            fig.add_trace(go.Scatter(x=x, y=np.asarray(y, float).tolist(), mode="lines+markers", name=s.model_name,
                                     legendgroup=s.model_name, showlegend=k == 0, line=line, text=hover,
                                     hovertemplate="%{text}<br>%{y:.3f}<extra></extra>",
                                     line_shape="hv" if k == 0 else "linear"), row=row, col=col)
    if has_box and attending and box_share is not None:
        fig.add_hline(y=box_share, line={"dash": "dot", "color": "#7f7f7f"}, row=2, col=2,
                      annotation_text="uniform attention", annotation_position="top right")
    fig.update_xaxes(type="category")
    fig.update_xaxes(title_text="epsilon (/255)", row=2)
    fig.update_yaxes(range=[-0.05, 1.05])
    fig.update_yaxes(tickvals=[0, 1], ticktext=["missed", "reached"], row=1, col=1)
    fig.update_layout(title={"text": title or "The attack at each budget"}, template="plotly_white", height=560,
                      legend={"title": {"text": "model"}}, margin={"l": 10, "r": 10, "t": 80, "b": 10})
    return fig


def sweep_strip(sweeps: Sequence[StrengthSweep], class_names: Sequence[str], box: Box | None,
                display: Display) -> np.ndarray:
    """uint8 sheet: per model a row of the adversarial image at each budget with the last glance's
    attention over it (the display's head), captioned with the budget, the class read and its
    probability; a model without attention shows its images with a note in the first cell."""
    size = int(sweeps[0].images.shape[1])
    zoom = auto_zoom(size, 160)  # 192 px for the canvases, 224 px for photos: small, and the text fits
    small = replace(display, zoom=zoom)
    rows = []
    for s in sweeps:
        cells = []
        for k, b in enumerate(_budget_labels(s)):
            image = s.images[k]
            if s.has_attention:
                cell = glance_frames(image, s.attention[k][None], small, box, scanpath=False)[0]
            else:
                cell = to_uint8(enlarge(np.asarray(image, np.float32), zoom))
                cell = cell if box is None else draw_box(cell, box.scaled(zoom))
            c = int(s.predicted[k])
            mark = "*" if s.success[k] else ""
            cells.append(caption(cell, f"{b}/255{mark}: {class_names[c]} {s.probs[k, c]:.0%}"))
        what = "no attention\n(global average\npooling)" if not s.has_attention else (
            f"last glance ({s.glances}),\n{display.head_name}")
        cells.insert(0, caption(no_attention_panel((size * zoom, size * zoom), what), s.model_name))
        rows.append(cells)
    return _grid(rows)
