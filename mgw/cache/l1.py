"""L1: in-process LRU with TTL (seed §2.4.1: 15 s, 100 entries). Thread-safe, size-bounded,
clock injectable so tests move time instead of sleeping."""
from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from typing import Callable, Iterator

from mgw.cache.base import Entry
from mgw.cache.metrics import LevelMetrics
from mgw.errors import DataError


def _check_size(max_size: int) -> int:
    if isinstance(max_size, bool) or not isinstance(max_size, int) or max_size < 1:
        raise DataError(f"cache max_size must be a positive int, got {max_size!r}")
    return max_size


def _check_ttl(ttl: float) -> float:
    if not ttl > 0:
        raise DataError(f"cache ttl must be > 0 seconds, got {ttl!r}")
    return float(ttl)


def _check_bytes(max_bytes: int | None) -> int | None:
    if max_bytes is not None and (not isinstance(max_bytes, int) or max_bytes < 1):
        raise DataError(f"cache max_bytes must be a positive int or None, got {max_bytes!r}")
    return max_bytes


class LRUCache:
    """Least-recently-used eviction; an expired entry is a miss and is dropped when seen.

    `max_bytes` is the byte budget that defines memory pressure (bytes of the serialised values);
    the entry count limit is `max_size`.
    """

    name = "L1"

    def __init__(self, max_size: int = 100, ttl: float = 15.0, *, max_bytes: int | None = 64 << 20,
                 clock: Callable[[], float] = time.monotonic):
        self.max_size = _check_size(max_size)
        self.ttl = _check_ttl(ttl)
        self.max_bytes = _check_bytes(max_bytes)
        self.clock = clock
        self.metrics = LevelMetrics(clock)
        self._data: OrderedDict[str, Entry] = OrderedDict()
        self._bytes = 0
        self._lock = threading.RLock()

    # ------------------------------------------------------------------ contract
    def get(self, key: str) -> Entry | None:
        with self._lock:
            entry = self._data.get(key)
            if entry is None:
                return None
            if entry.expired(self.clock()):
                self._drop(key)
                self.metrics.expiration()
                return None
            self._data.move_to_end(key)
            return entry

    def put(self, key: str, entry: Entry) -> list[str]:
        """Insert or replace; returns the keys evicted to make room."""
        with self._lock:
            if key in self._data:
                self._drop(key)
            self._data[key] = entry
            self._bytes += entry.nbytes
            return self._evict_over(self.max_size)

    def delete(self, key: str) -> bool:
        with self._lock:
            return self._drop(key)

    def clear(self) -> None:
        with self._lock:
            self._data.clear()
            self._bytes = 0

    def resize(self, max_size: int) -> list[str]:
        with self._lock:
            self.max_size = _check_size(max_size)
            return self._evict_over(self.max_size)

    def __len__(self) -> int:
        return len(self._data)

    def __contains__(self, key: str) -> bool:
        e = self._data.get(key)
        return e is not None and not e.expired(self.clock())

    def keys(self) -> Iterator[str]:
        with self._lock:
            return iter(list(self._data))

    def bytes_used(self) -> int:
        return self._bytes

    def memory_pressure(self) -> float:
        if not self.max_bytes:
            return len(self) / self.max_size
        return min(1.0, self._bytes / self.max_bytes)

    def purge(self, predicate: Callable[[Entry], bool]) -> int:
        """Drop every entry for which predicate(entry) is true (used by immediate invalidation:
        L1 is small and local, so a sweep over it is cheap; L2 relies on generation checks)."""
        with self._lock:
            doomed = [k for k, e in self._data.items() if predicate(e)]
            for k in doomed:
                self._drop(k)
            return len(doomed)

    def mean_age(self) -> float:
        now = self.clock()
        with self._lock:
            ages = [now - e.created_at for e in self._data.values()]
        return sum(ages) / len(ages) if ages else math.nan

    # ------------------------------------------------------------------ internals
    def _drop(self, key: str) -> bool:
        entry = self._data.pop(key, None)
        if entry is None:
            return False
        self._bytes -= entry.nbytes
        return True

    def _evict_over(self, limit: int) -> list[str]:
        evicted = []
        while len(self._data) > limit:
            key = next(iter(self._data))
            self._drop(key)
            evicted.append(key)
        if evicted:
            self.metrics.eviction(len(evicted))
        return evicted
