"""Data: the canvas tasks on Fashion-MNIST (cluttered, the default; cued) and user image folders."""

from .canvases import CANVAS_TASKS, DEFAULT_TASK, ClutteredFashionMNIST, check_task, make_batch
from .cluttered import CANVAS, Canvas, render_canvas
from .cued import render_cued_canvas
from .fashion_mnist import (
           CLASS_NAMES,
           DatasetNotFoundError,
           find_fashion_mnist,
           load_fashion_mnist,
)
from .imagefolder import ImageFolder, load_image

__all__ = ["CANVAS", "Canvas", "ClutteredFashionMNIST", "make_batch", "render_canvas", "render_cued_canvas",
           "CANVAS_TASKS", "DEFAULT_TASK", "check_task", "CLASS_NAMES",
           "DatasetNotFoundError", "find_fashion_mnist", "load_fashion_mnist", "ImageFolder",
           "load_image"]
