"""Evaluate checkpoints: on the Cluttered Fashion-MNIST test split (accuracy, robustness, and
where the attention goes, clean and under attack), or on any image folder such as ImageNet val.

Modules: ``measure`` (the measurements, returning numbers), ``outcomes`` (per-canvas outcomes
of an attack), ``paired`` (paired statistics), ``compare`` (the compare and curve modes),
``report`` (markdown, CSV, JSON and the race figure from those numbers), ``checkpoints`` (row
labels, the shared task, the canvases read), ``cli`` (the command, under torchrun too).
"""

from .cli import get_args_parser, main
from .measure import folder_robustness, robustness_grid, task_metrics
from .report import grid_markdown, write_grid

__all__ = ["get_args_parser", "main", "folder_robustness", "robustness_grid", "task_metrics",
           "grid_markdown", "write_grid"]
