"""The event buffer (seed §3.4.3): click, watch, skip and rate events are buffered and flushed by size or
interval. A flush records each event in the user store (seed §4.3.2 preference learning; a click counts as a
short watch) and then invalidates that user's caches (search cache entries and session result buffers), so
the user's next search is computed with the new preferences."""
from __future__ import annotations

import logging
import threading
import time
from typing import Any, Callable

from mgw.errors import DataError, UnknownIdError

log = logging.getLogger(__name__)
KINDS = ("click", "watch", "skip", "rate")
STORE_EVENT = {"click": "watch", "watch": "watch", "skip": "skip", "rate": "rate"}


class EventBuffer:
    def __init__(self, record: Callable[..., Any], invalidate: Callable[[str], Any], batch: int = 100,
                 interval_s: float = 1.0, known: Callable[[str], bool] | None = None):
        self.record, self.invalidate, self.batch, self.interval_s = record, invalidate, batch, interval_s
        self.known = known
        self._events: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._flush_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.flushed = self.failed = 0

    def validate(self, e: dict[str, Any]) -> dict[str, Any]:
        if e["action"] not in KINDS:
            raise DataError(f"action must be one of {', '.join(KINDS)}")
        if e["action"] == "rate" and e.get("rating") is None:
            raise DataError("a rate event needs a rating in 0..5")
        if self.known is not None and not self.known(e["contentId"]):
            raise UnknownIdError(f"unknown contentId {e['contentId']!r}")
        return e

    def add(self, user: str, events: list[dict[str, Any]]) -> int:
        """Validate all, then buffer all (a bad event rejects the batch: nothing half-applied)."""
        checked = [{**self.validate(e), "userId": user, "timestamp": e.get("timestamp") or time.time()}
                   for e in events]
        with self._lock:
            self._events.extend(checked)
            full = len(self._events) >= self.batch
        if full:
            self.flush()
        return len(checked)

    def flush(self) -> int:
        with self._flush_lock:
            with self._lock:
                batch, self._events = self._events, []
            users = set()
            for e in batch:
                try:
                    self.record(e["userId"], e["contentId"], STORE_EVENT[e["action"]], rating=e.get("rating"),
                                minutes=e.get("minutes"), ts=e["timestamp"])
                    users.add(e["userId"])
                except Exception as err:  # one bad event must not lose the batch
                    self.failed += 1
                    log.warning("event %s for %s not recorded: %s", e["action"], e["contentId"], err)
            for u in sorted(users):
                self.invalidate(u)
            self.flushed += len(batch)
            return len(batch)

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="mgw-event-buffer", daemon=True)
            self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(self.interval_s):
            if self._events:
                self.flush()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)
            self._thread = None
        self.flush()
