"""The architectures by name: every ``Classifier`` subclass with an ``arch`` registers itself
here when its module is imported (the package imports them all). Imports nothing of the
package, so the config can check a name without importing the models back."""

from __future__ import annotations

from typing import Any

__all__ = ["ARCHITECTURES", "register", "check_arch"]

ARCHITECTURES: dict[str, Any] = {}  # name -> Classifier subclass


def register(cls: type) -> type:
    ARCHITECTURES[cls.arch] = cls  # type: ignore[attr-defined]
    return cls


def check_arch(name: Any) -> str:
    """``name`` when it is a registered architecture, else ``ValueError`` listing them."""
    if name not in ARCHITECTURES:
        raise ValueError(f"arch must be one of {sorted(ARCHITECTURES)}, got {name!r}")
    return name
