"""Drawing an adversarial patch: the clean and the patched image with the last glance's attention
and both boxes, and the share of attention on the patch and on the item, glance by glance."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go

from model.records import Box, PatchRun

from .frames import Display, caption, draw_box, enlarge, glance_frames, no_attention_panel, to_uint8

__all__ = ["PATCH_COLOUR", "patch_panels", "patch_figure"]

PATCH_COLOUR = (255, 0, 255)


def _panel(image: np.ndarray, attention: np.ndarray | None, display: Display, item: Box | None,
           patch: Box | None) -> np.ndarray:
    if attention is None:
        frame = to_uint8(enlarge(np.asarray(image, np.float32), display.zoom)).copy()
        if item is not None:
            frame = draw_box(frame, item.scaled(display.zoom))
    else:
        frame = glance_frames(image, attention[-1:], display, item, scanpath=False)[0]
    if patch is not None:
        frame = draw_box(frame, patch.scaled(display.zoom), PATCH_COLOUR, max(1, display.zoom // 2))
    return frame


def patch_panels(clean_image: np.ndarray, run: PatchRun, class_names: Sequence[str], display: Display,
                 item: Box | None, has_attention: bool) -> np.ndarray:
    """(H', 2*W' + gap, 3) uint8: the clean image and the patched one, each captioned with its
    prediction, with the last glance's attention (when the model has any), the item's box (green)
    and the patch's place (magenta) drawn on both."""
    panels = []
    for name, image, pred in (("clean", clean_image, run.clean), ("patched", run.image, run.prediction)):
        look = _panel(image, pred.attention if has_attention else None, display, item, run.place)
        panels.append(caption(look, f"{name}: {class_names[pred.label]} {pred.probs.max():.0%}"))
    if not has_attention:
        panels.append(caption(no_attention_panel(look.shape[:2], "no attention maps:\nsee the attribution\n"
                                                 "shares below"), "attention"))
    gap = np.zeros((panels[0].shape[0], 4, 3), np.uint8)
    row = [panels[0]]
    for p in panels[1:]:
        row += [gap, p]
    return np.concatenate(row, axis=1)


def patch_figure(readout: dict[str, np.ndarray], has_attention: bool) -> go.Figure:
    """The share of attention (or of the Saliency attribution) on the patch and on the item per
    glance, clean (dashed) and patched (solid)."""
    fig = go.Figure()
    colours = {"patch": "#d62728", "item": "#2ca02c"}
    for key, values in readout.items():
        place, when = key.split(", ")
        x = np.arange(1, len(values) + 1)
        fig.add_trace(go.Scatter(x=x, y=values, mode="lines+markers", name=f"on the {place}, {when}",
                                 line={"color": colours[place], "dash": "solid" if when == "patched" else "dash"}))
    what = "attention" if has_attention else "Saliency attribution"
    fig.update_layout(title={"text": f"Share of the {what} on the patch and on the item"},
                      xaxis={"title": {"text": "glance"}, "tick0": 1, "dtick": 1},
                      yaxis={"title": {"text": f"share of the {what}"}, "range": [0, 1]},
                      template="plotly_white", height=320, margin={"l": 10, "r": 10, "t": 40, "b": 10})
    return fig
