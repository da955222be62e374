"""Distillation of the natural-photo attention head (issue 13)."""

from .cli import get_args_parser, main

__all__ = ["get_args_parser", "main"]
