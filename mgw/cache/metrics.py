"""Per-level cache metrics (seed §2.4.3): hit rate, miss latency, evictions per minute,
memory pressure, staleness. Counters are cumulative *and* per window; `roll()` closes a window
(the auto-tuner calls it once per tuning interval), so rates describe recent traffic."""
from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Callable


@dataclass
class Window:
    hits: int = 0
    misses: int = 0
    evictions: int = 0
    expirations: int = 0
    miss_latency_s: list[float] = field(default_factory=list)
    hit_age_s: float = 0.0  # sum of ages of entries served on hits

    def merge(self, other: Window) -> None:
        self.hits += other.hits
        self.misses += other.misses
        self.evictions += other.evictions
        self.expirations += other.expirations
        self.miss_latency_s.extend(other.miss_latency_s)
        self.hit_age_s += other.hit_age_s


@dataclass(frozen=True)
class Snapshot:
    """What the seed's CacheMetrics interface holds, for one level and one window."""

    hit_rate: float | None  # None when the window saw no lookups
    miss_latency_ms: float | None  # mean time to fetch from the next level on a miss
    eviction_rate: float  # evictions per minute
    memory_pressure: float  # 0..1, bytes used / byte budget
    staleness_ms: float | None  # mean age of the entries served on hits
    hits: int
    misses: int
    evictions: int
    window_s: float

    def as_dict(self) -> dict:
        return dict(self.__dict__)


class LevelMetrics:
    """Thread-safe counters for one level. `clock` is the cache's clock (seconds)."""

    MAX_LATENCIES = 10_000  # keep memory bounded; mean over the kept ones

    def __init__(self, clock: Callable[[], float]):
        self._clock = clock
        self._lock = threading.Lock()
        self.total = Window()
        self._window = Window()
        self._window_start = clock()

    def hit(self, age_s: float) -> None:
        with self._lock:
            for w in (self.total, self._window):
                w.hits += 1
                w.hit_age_s += max(age_s, 0.0)

    def miss(self, fetch_latency_s: float | None = None) -> None:
        with self._lock:
            for w in (self.total, self._window):
                w.misses += 1
                if fetch_latency_s is not None and len(w.miss_latency_s) < self.MAX_LATENCIES:
                    w.miss_latency_s.append(fetch_latency_s)

    def miss_latency(self, fetch_latency_s: float) -> None:
        """Attach the time the next level took to the latest miss (measured after the fact)."""
        with self._lock:
            for w in (self.total, self._window):
                if len(w.miss_latency_s) < self.MAX_LATENCIES:
                    w.miss_latency_s.append(fetch_latency_s)

    def eviction(self, n: int = 1) -> None:
        with self._lock:
            self.total.evictions += n
            self._window.evictions += n

    def expiration(self, n: int = 1) -> None:
        with self._lock:
            self.total.expirations += n
            self._window.expirations += n

    @staticmethod
    def _snapshot(w: Window, window_s: float, pressure: float) -> Snapshot:
        lookups = w.hits + w.misses
        return Snapshot(
            hit_rate=w.hits / lookups if lookups else None,
            miss_latency_ms=1000 * sum(w.miss_latency_s) / len(w.miss_latency_s) if w.miss_latency_s else None,
            eviction_rate=60.0 * w.evictions / window_s if window_s > 0 else 0.0,
            memory_pressure=pressure,
            staleness_ms=1000 * w.hit_age_s / w.hits if w.hits else None,
            hits=w.hits, misses=w.misses, evictions=w.evictions, window_s=window_s)

    def current(self, pressure: float) -> Snapshot:
        """The open window so far, without closing it."""
        with self._lock:
            return self._snapshot(self._window, self._clock() - self._window_start, pressure)

    def roll(self, pressure: float) -> Snapshot:
        """Close the current window and return its snapshot."""
        with self._lock:
            now = self._clock()
            snap = self._snapshot(self._window, now - self._window_start, pressure)
            self._window = Window()
            self._window_start = now
            return snap

    def cumulative(self, pressure: float, since: float) -> Snapshot:
        with self._lock:
            return self._snapshot(self.total, self._clock() - since, pressure)
