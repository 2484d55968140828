"""Input buffering between a connector and its sink (seed §3.4.1): flush on size, on time, or whichever
comes first (hybrid). The clock is injectable so that time-based flushing is tested without sleeping."""
from __future__ import annotations

import time
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class InputBuffer(Generic[T]):
    def __init__(self, flush_fn: Callable[[list[T]], None], max_size: int = 100, max_delay_ms: int = 5000,
                 strategy: str = "hybrid", clock: Callable[[], float] = time.monotonic):
        if strategy not in ("size", "time", "hybrid"):
            raise ValueError(f"flush strategy must be size, time or hybrid, not {strategy!r}")
        if max_size < 1 or max_delay_ms < 1:
            raise ValueError("max_size and max_delay_ms must be positive")
        self.flush_fn = flush_fn
        self.max_size = max_size
        self.max_delay_s = max_delay_ms / 1000.0
        self.strategy = strategy
        self.clock = clock
        self.items: list[T] = []
        self.oldest: float | None = None
        self.flushes = {"size": 0, "time": 0, "final": 0}

    def add(self, item: T) -> None:
        if not self.items:
            self.oldest = self.clock()
        self.items.append(item)
        if self.strategy in ("size", "hybrid") and len(self.items) >= self.max_size:
            self._flush("size")
        else:
            self.poll()

    def poll(self) -> None:
        """Flush if the oldest buffered item has waited max_delay (call from a loop or timer)."""
        if (self.items and self.strategy in ("time", "hybrid")
                and self.clock() - (self.oldest or 0.0) >= self.max_delay_s):
            self._flush("time")

    def close(self) -> None:
        if self.items:
            self._flush("final")

    def _flush(self, why: str) -> None:
        batch, self.items, self.oldest = self.items, [], None
        self.flush_fn(batch)
        self.flushes[why] += 1

    def __enter__(self) -> "InputBuffer[T]":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
