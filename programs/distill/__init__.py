"""Distillation of the natural-photo attention head: ImageNet-scale attention on a pretrained trunk, taught on a CPU."""

from .cli import get_args_parser, main

__all__ = ["get_args_parser", "main"]
