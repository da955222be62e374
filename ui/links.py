"""Shareable views: the page's settings as URL query parameters, and back, with every value
checked. Pure Python; the page reads ``st.query_params`` and hands them here.

A link carries names and numbers only (a checkpoint's file stem, a gallery sample's file name,
attack settings, the seed, glance counts, display choices, a view's own settings): an uploaded image cannot travel in
a link. Decoding never fails: a value that is missing keeps the page's default, and a value
that is malformed or out of range is dropped with a message saying what was wrong and what is
allowed, so a hand-edited or truncated link still opens a working page.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

__all__ = ["Field", "decode", "encode", "MAX_VALUE_CHARS"]

MAX_VALUE_CHARS = 200  # longer values are refused unread


@dataclass(frozen=True)
class Field:
    """One setting in a link: ``kind`` is "int", "float", "bool", "choice" or "numbers" (1 to
    ``most`` numbers separated by commas); numbers must lie in [lo, hi]; choices must be one of
    ``choices`` (compared as written)."""

    key: str
    kind: str
    lo: float | None = None
    hi: float | None = None
    choices: Sequence[str] = ()
    most: int = 1

    def __post_init__(self) -> None:
        if self.kind not in ("int", "float", "bool", "choice", "numbers"):
            raise ValueError(f"kind must be int, float, bool, choice or numbers, got {self.kind!r}")

    def allowed(self) -> str:
        if self.kind == "numbers":
            return f"1 to {self.most} numbers from {self.lo:g} to {self.hi:g} separated by commas"
        if self.kind == "choice":
            shown = ", ".join(self.choices[:12]) + (", ..." if len(self.choices) > 12 else "")
            return f"one of {shown}"
        if self.kind == "bool":
            return "0 or 1"
        if self.kind == "int":
            return f"a whole number from {int(self.lo)} to {int(self.hi)}"
        return f"a number from {self.lo:g} to {self.hi:g}"

    def parse(self, text: str) -> Any:
        """The value of ``text``, or ValueError."""
        if self.kind == "choice":
            if text not in self.choices:
                raise ValueError
            return text
        if self.kind == "bool":
            if text not in ("0", "1", "true", "false"):
                raise ValueError
            return text in ("1", "true")
        if self.kind == "numbers":
            parts = [p.strip() for p in text.split(",")]
            if not 1 <= len(parts) <= self.most:
                raise ValueError
            return ", ".join(f"{v:g}" for v in (replace(self, kind="float").parse(p) for p in parts))
        value = float(text)
        if not math.isfinite(value):
            raise ValueError
        if self.kind == "int":
            if value != int(value):
                raise ValueError
            value = int(value)
        if (self.lo is not None and value < self.lo) or (self.hi is not None and value > self.hi):
            raise ValueError
        return value


def _first(value: Any) -> str:
    """Query parameters may repeat a key: the first value counts."""
    if isinstance(value, (list, tuple)):
        value = value[0] if value else ""
    return str(value)


def decode(params: Mapping[str, Any], fields: Sequence[Field]) -> tuple[dict[str, Any], list[str]]:
    """(the valid settings by key, one message per value that was dropped). Unknown keys are
    ignored: links from a newer version still open."""
    values: dict[str, Any] = {}
    problems: list[str] = []
    for field in fields:
        if field.key not in params:
            continue
        text = _first(params[field.key]).strip()
        if len(text) > MAX_VALUE_CHARS:
            problems.append(f"'{field.key}' in the link is {len(text)} characters long; ignored")
            continue
        try:
            values[field.key] = field.parse(text)
        except (ValueError, OverflowError):
            problems.append(f"'{field.key}={text}' in the link is not {field.allowed()}; the default is used")
    return values, problems


def encode(values: Mapping[str, Any]) -> dict[str, str]:
    """Query parameters for ``values``: numbers as short text, booleans as 0/1, None left out."""
    out = {}
    for key, value in values.items():
        if value is None:
            continue
        if isinstance(value, bool):
            out[key] = "1" if value else "0"
        elif isinstance(value, float):
            out[key] = f"{value:g}"
        else:
            out[key] = str(value)
    return out
