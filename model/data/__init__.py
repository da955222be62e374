"""Data: Cluttered Fashion-MNIST (the default task) and user image folders."""

from .cluttered import CANVAS, Canvas, ClutteredFashionMNIST, make_batch, render_canvas
from .fashion_mnist import (
           CLASS_NAMES,
           DatasetNotFoundError,
           find_fashion_mnist,
           load_fashion_mnist,
)
from .imagefolder import ImageFolder, load_image

__all__ = ["CANVAS", "Canvas", "ClutteredFashionMNIST", "make_batch", "render_canvas", "CLASS_NAMES",
           "DatasetNotFoundError", "find_fashion_mnist", "load_fashion_mnist", "ImageFolder",
           "load_image"]
