"""L2 in process: LFU with TTL (seed §2.4.1: 5 min, 10,000 entries), O(1) per operation.

Stores the serialised envelope (bytes), exactly as the Redis L2 does, so both pass the same
contract (mgw/testing/cache_contract.py) and a value comes back as a copy, never a shared object.
Ties between equally frequent entries are broken least-recently-used.
"""
from __future__ import annotations

import threading
import time
from collections import OrderedDict, defaultdict
from typing import Callable, Iterator

from mgw.cache.base import Entry
from mgw.cache.l1 import _check_bytes, _check_size, _check_ttl
from mgw.cache.metrics import LevelMetrics


class LFUCache:
    name = "L2"

    def __init__(self, max_size: int = 10_000, ttl: float = 300.0, *, max_bytes: int | None = 256 << 20,
                 clock: Callable[[], float] = time.monotonic):
        self.max_size = _check_size(max_size)
        self.ttl = _check_ttl(ttl)
        self.max_bytes = _check_bytes(max_bytes)
        self.clock = clock
        self.metrics = LevelMetrics(clock)
        self._raw: dict[str, bytes] = {}
        self._expires: dict[str, float] = {}
        self._freq: dict[str, int] = {}
        self._buckets: defaultdict[int, OrderedDict[str, None]] = defaultdict(OrderedDict)
        self._min_freq = 0
        self._bytes = 0
        self._lock = threading.RLock()

    # ------------------------------------------------------------------ contract
    def get(self, key: str) -> Entry | None:
        with self._lock:
            raw = self._raw.get(key)
            if raw is None:
                return None
            if self.clock() >= self._expires[key]:
                self._drop(key)
                self.metrics.expiration()
                return None
            self._touch(key)
        return Entry.from_bytes(raw)

    def put(self, key: str, entry: Entry) -> list[str]:
        raw = entry.to_bytes()
        with self._lock:
            evicted: list[str] = []
            if key in self._raw:
                self._bytes += len(raw) - len(self._raw[key])
                self._raw[key] = raw
                self._expires[key] = entry.expires_at
                self._touch(key)
                return evicted
            while len(self._raw) >= self.max_size:
                evicted.append(self._evict_one())
            self._raw[key] = raw
            self._expires[key] = entry.expires_at
            self._bytes += len(raw)
            self._freq[key] = 1
            self._buckets[1][key] = None
            self._min_freq = 1
        if evicted:
            self.metrics.eviction(len(evicted))
        return evicted

    def delete(self, key: str) -> bool:
        with self._lock:
            return self._drop(key)

    def clear(self) -> None:
        with self._lock:
            self._raw.clear()
            self._expires.clear()
            self._freq.clear()
            self._buckets.clear()
            self._min_freq = 0
            self._bytes = 0

    def resize(self, max_size: int) -> list[str]:
        with self._lock:
            self.max_size = _check_size(max_size)
            evicted = [self._evict_one() for _ in range(max(0, len(self._raw) - self.max_size))]
        if evicted:
            self.metrics.eviction(len(evicted))
        return evicted

    def __len__(self) -> int:
        return len(self._raw)

    def __contains__(self, key: str) -> bool:
        exp = self._expires.get(key)
        return exp is not None and self.clock() < exp

    def keys(self) -> Iterator[str]:
        with self._lock:
            return iter(list(self._raw))

    def frequency(self, key: str) -> int:
        return self._freq.get(key, 0)

    def bytes_used(self) -> int:
        return self._bytes

    def memory_pressure(self) -> float:
        if not self.max_bytes:
            return len(self) / self.max_size
        return min(1.0, self._bytes / self.max_bytes)

    def ping(self) -> bool:
        return True

    # ------------------------------------------------------------------ internals
    def _touch(self, key: str) -> None:
        f = self._freq[key]
        bucket = self._buckets[f]
        del bucket[key]
        if not bucket:
            del self._buckets[f]
            if self._min_freq == f:
                self._min_freq = f + 1
        self._freq[key] = f + 1
        self._buckets[f + 1][key] = None

    def _evict_one(self) -> str:
        if self._min_freq not in self._buckets:  # after deletes the hint may be stale
            self._min_freq = min(self._buckets)
        key = next(iter(self._buckets[self._min_freq]))
        self._drop(key)
        return key

    def _drop(self, key: str) -> bool:
        raw = self._raw.pop(key, None)
        if raw is None:
            return False
        self._bytes -= len(raw)
        del self._expires[key]
        f = self._freq.pop(key)
        bucket = self._buckets[f]
        del bucket[key]
        if not bucket:
            del self._buckets[f]
        return True
