"""A bounded, thread-safe result cache and a gate on concurrent attacks: what lets every
session of one server share computed results without holding unbounded memory or CPU."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import numpy as np

__all__ = ["ResultCache", "AttackGate", "BusyError", "digest", "size_of"]

T = TypeVar("T")


def digest(*parts: Any) -> str:
    """A stable hex key for JSON-able parts (bytes are hashed first)."""
    norm = [hashlib.sha256(p).hexdigest() if isinstance(p, (bytes, bytearray)) else p for p in parts]
    return hashlib.sha256(json.dumps(norm, sort_keys=True, default=str).encode()).hexdigest()


def size_of(value: Any) -> int:
    """Bytes held by the arrays and byte strings inside ``value`` (dataclasses, dicts, lists,
    tuples), which is what dominates a cached result; small Python objects count 64 bytes."""
    if isinstance(value, np.ndarray):
        return int(value.nbytes)
    if isinstance(value, (bytes, bytearray, str)):
        return len(value)
    if isinstance(value, dict):
        return sum(size_of(k) + size_of(v) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return sum(size_of(v) for v in value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return sum(size_of(getattr(value, f.name)) for f in dataclasses.fields(value))
    return 64


class ResultCache:
    """At most ``max_entries`` results holding at most ``max_bytes`` of arrays; the least
    recently used go first. ``get_or_compute`` computes a missing key once even when several
    threads ask for it together."""

    def __init__(self, max_entries: int = 64, max_bytes: int = 512 * 2**20) -> None:
        if not isinstance(max_entries, int) or max_entries < 1:
            raise ValueError(f"max_entries must be an integer >= 1, got {max_entries!r}")
        if not isinstance(max_bytes, int) or max_bytes < 1:
            raise ValueError(f"max_bytes must be an integer >= 1, got {max_bytes!r}")
        self.max_entries, self.max_bytes = max_entries, max_bytes
        self.bytes = 0
        self._sizes: dict[Hashable, int] = {}
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
        size = size_of(value)
        with self._lock:
            if key in self._data:
                self.bytes -= self._sizes.pop(key)
            self._data[key] = value
            self._sizes[key] = size
            self.bytes += size
            self._data.move_to_end(key)
            while len(self._data) > 1 and (len(self._data) > self.max_entries or self.bytes > self.max_bytes):
                old, _ = self._data.popitem(last=False)
                self.bytes -= self._sizes.pop(old)

    def discard(self, key: Hashable) -> None:
        """Forget ``key`` (nothing happens when it is not held)."""
        with self._lock:
            if key in self._data:
                del self._data[key]
                self.bytes -= self._sizes.pop(key)

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

    def settle(self, key: Hashable, timeout: float = 10.0) -> None:
        """Wait, at most ``timeout`` seconds, for a computation of ``key`` still running in another
        thread. Streamlit starts a new page run as soon as the user presses Stop while the stopped
        run is still unwinding in its own thread, handing over what it had finished: the new run
        settles the key before it looks for that."""
        with self._lock:
            lock = self._pending.get(key)
        if lock is not None and lock.acquire(timeout=timeout):
            lock.release()

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
