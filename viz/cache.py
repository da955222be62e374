"""A small thread-safe LRU cache of results keyed by their inputs, and a gate that bounds how
many attacks run at once; one of each is shared by every session of an app process."""

from __future__ import annotations

import hashlib
import json
import threading
from collections import OrderedDict
from contextlib import contextmanager
from typing import Any, Callable, Hashable, Iterator, TypeVar

__all__ = ["ResultCache", "AttackGate", "BusyError", "digest"]

T = TypeVar("T")


def digest(*parts: Any) -> str:
    """A stable hex key for JSON-able parts (bytes are hashed first)."""
    norm = [hashlib.sha256(p).hexdigest() if isinstance(p, (bytes, bytearray)) else p for p in parts]
    return hashlib.sha256(json.dumps(norm, sort_keys=True, default=str).encode()).hexdigest()


class ResultCache:
    """At most ``max_entries`` results; the least recently used goes first. ``get_or_compute``
    computes a missing key once even when several threads ask for it together."""

    def __init__(self, max_entries: int = 64) -> None:
        if not isinstance(max_entries, int) or max_entries < 1:
            raise ValueError(f"max_entries must be an integer >= 1, got {max_entries!r}")
        self.max_entries = max_entries
        self._data: OrderedDict[Hashable, Any] = OrderedDict()
        self._lock = threading.Lock()
        self._pending: dict[Hashable, threading.Lock] = {}
        self.hits = 0
        self.misses = 0

    def get(self, key: Hashable) -> Any | None:
        with self._lock:
            if key in self._data:
                self._data.move_to_end(key)
                self.hits += 1
                return self._data[key]
            return None

    def put(self, key: Hashable, value: Any) -> None:
        with self._lock:
            self._data[key] = value
            self._data.move_to_end(key)
            while len(self._data) > self.max_entries:
                self._data.popitem(last=False)

    def get_or_compute(self, key: Hashable, compute: Callable[[], T]) -> T:
        found = self.get(key)
        if found is not None:
            return found
        with self._lock:
            lock = self._pending.setdefault(key, threading.Lock())
        with lock:  # one computation per key; the others wait for it
            found = self.get(key)
            if found is not None:
                return found
            with self._lock:
                self.misses += 1
            try:
                value = compute()
                self.put(key, value)
            finally:
                with self._lock:
                    self._pending.pop(key, None)
            return value

    def __len__(self) -> int:
        with self._lock:
            return len(self._data)

    def __contains__(self, key: Hashable) -> bool:
        with self._lock:
            return key in self._data


class BusyError(RuntimeError):
    """Too many attacks are running; try again in a moment."""


class AttackGate:
    """At most ``limit`` attacks at once (each holds a model's activations and gradients); a
    caller waits up to ``timeout`` seconds for a slot, then gets a ``BusyError``."""

    def __init__(self, limit: int = 2, timeout: float = 60.0) -> None:
        if not isinstance(limit, int) or limit < 1:
            raise ValueError(f"limit must be an integer >= 1, got {limit!r}")
        if not timeout >= 0:
            raise ValueError(f"timeout must be >= 0 seconds, got {timeout!r}")
        self.limit, self.timeout = limit, timeout
        self._slots = threading.BoundedSemaphore(limit)
        self._lock = threading.Lock()
        self.running = 0
        self.peak = 0

    @contextmanager
    def slot(self) -> Iterator[None]:
        if not self._slots.acquire(timeout=self.timeout):
            raise BusyError(f"{self.limit} attacks are already running; try again in a moment")
        with self._lock:
            self.running += 1
            self.peak = max(self.peak, self.running)
        try:
            yield
        finally:
            with self._lock:
                self.running -= 1
            self._slots.release()
