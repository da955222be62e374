"""Plotly figures of evaluation results; they return figures and never show or save themselves."""

from __future__ import annotations

from typing import Any, Sequence

import plotly.graph_objects as go

__all__ = ["race_figure"]


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
