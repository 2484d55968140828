"""Live catalog feed connector (seed §1.3.1, §3.1.1 step 1): pulls a CSV or JSON feed from a URL.

- rate limit: a token bucket, `rateLimit` requests per second;
- retry: HTTP 5xx, 429, timeouts and connection errors are retried with exponential backoff and full
  jitter (`backoff_base_s * 2**attempt`, seeded RNG), up to `max_retries`; 4xx fail at once;
- cache policies: `cache-first` (a cached copy younger than `refreshInterval` is used without a request),
  `network-first` (always ask; on failure serve the cached copy), `stale-while-revalidate` (serve the cached
  copy at once, even stale, and refresh it in the background; with no cache, fetch).
Records come back in the 13-column catalog shape; malformed rows are handled by the same quarantine as files.
"""
from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import requests

from mgw.data.connectors.csv_catalog import iter_csv_records
from mgw.errors import DataError, MgwError


class FeedError(MgwError):
    """The feed could not be fetched (after retries) and no cached copy could stand in."""


class TokenBucket:
    """`rate` requests per second with a burst of one; the clock and sleep are injectable for tests."""

    def __init__(self, rate: float, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep):
        if rate <= 0:
            raise ValueError("rate limit must be positive")
        self.interval = 1.0 / rate
        self.clock, self.sleep = clock, sleep
        self.next_free = clock()
        self.lock = threading.Lock()

    def acquire(self) -> float:
        """Block until a request may go; return the seconds waited."""
        with self.lock:
            now = self.clock()
            wait = max(0.0, self.next_free - now)
            self.next_free = max(now, self.next_free) + self.interval
        if wait:
            self.sleep(wait)
        return wait


@dataclass
class CachedFeed:
    body: str
    content_type: str
    fetched_at: float


def parse_feed(body: str, content_type: str = "", url: str = "") -> list[tuple[int, dict[str, Any]]]:
    """CSV text or a JSON array of objects (or {"items": [...]}) → (row number, record) pairs."""
    looks_json = "json" in content_type or url.endswith(".json") or body.lstrip()[:1] in ("[", "{")
    if looks_json:
        try:
            data = json.loads(body)
        except json.JSONDecodeError as e:
            raise DataError(f"{url}: feed is not valid JSON: {e}") from None
        rows = data.get("items") if isinstance(data, dict) else data
        if not isinstance(rows, list):
            raise DataError(f"{url}: JSON feed must be a list of objects or {{'items': [...]}}")
        return [(n, r if isinstance(r, dict) else {"_value": r}) for n, r in enumerate(rows, start=1)]
    return list(iter_csv_records(body, source=url))


class LiveFeedConnector:
    RETRY_STATUS = frozenset({429, 500, 502, 503, 504})

    def __init__(self, platform: str, url: str, rate_limit: float = 10.0, max_retries: int = 4,
                 backoff_base_s: float = 0.5, timeout_s: float = 10.0, refresh_interval_ms: int = 3_600_000,
                 cache_policy: str = "stale-while-revalidate", seed: int = 0,
                 clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep,
                 session: requests.Session | None = None):
        if cache_policy not in ("stale-while-revalidate", "cache-first", "network-first"):
            raise ValueError(f"unknown cache policy {cache_policy!r}")
        self.platform, self.url = platform, url
        self.max_retries, self.backoff_base_s, self.timeout_s = max_retries, backoff_base_s, timeout_s
        self.refresh_s = refresh_interval_ms / 1000.0
        self.cache_policy = cache_policy
        self.clock, self.sleep = clock, sleep
        self.bucket = TokenBucket(rate_limit, clock, sleep)
        self.rng = np.random.default_rng(seed)
        self.session = session or requests.Session()
        self.cache: CachedFeed | None = None
        self.stats = {"requests": 0, "retries": 0, "failures": 0, "served_from_cache": 0, "background_refreshes": 0}
        self._refresh: threading.Thread | None = None

    @classmethod
    def from_params(cls, platform: str, conn: Any, seed: int = 0) -> "LiveFeedConnector":
        return cls(platform, conn.url, conn.rateLimit, conn.max_retries, conn.backoff_base_s, conn.timeout_s,
                   conn.refreshInterval, conn.cachePolicy, seed)

    # ------------------------------------------------------------------ network
    def _get_with_retries(self) -> CachedFeed:
        last: str = ""
        for attempt in range(self.max_retries + 1):
            if attempt:
                self.stats["retries"] += 1
                self.sleep(float(self.rng.uniform(0, self.backoff_base_s * 2 ** (attempt - 1))))
            self.bucket.acquire()
            self.stats["requests"] += 1
            try:
                resp = self.session.get(self.url, timeout=self.timeout_s)
            except (requests.Timeout, requests.ConnectionError) as e:
                last = f"{type(e).__name__}: {e}"
                continue
            if resp.status_code in self.RETRY_STATUS:
                last = f"HTTP {resp.status_code}"
                continue
            if resp.status_code >= 400:
                self.stats["failures"] += 1
                raise FeedError(f"{self.url}: HTTP {resp.status_code} (not retried)")
            resp.encoding = resp.encoding or "utf-8"
            return CachedFeed(resp.text, resp.headers.get("content-type", ""), self.clock())
        self.stats["failures"] += 1
        raise FeedError(f"{self.url}: failed after {self.max_retries + 1} attempts; last error: {last}")

    def _revalidate(self) -> None:
        try:
            self.cache = self._get_with_retries()
            self.stats["background_refreshes"] += 1
        except FeedError:
            pass  # keep serving the stale copy; the failure is counted in stats

    # ------------------------------------------------------------------ policies
    def fetch(self) -> CachedFeed:
        cached = self.cache
        fresh = cached is not None and self.clock() - cached.fetched_at < self.refresh_s
        if self.cache_policy == "cache-first" and fresh:
            self.stats["served_from_cache"] += 1
            return cached  # type: ignore[return-value]
        if self.cache_policy == "stale-while-revalidate" and cached is not None:
            self.stats["served_from_cache"] += 1
            if not fresh and (self._refresh is None or not self._refresh.is_alive()):
                self._refresh = threading.Thread(target=self._revalidate, daemon=True)
                self._refresh.start()
            return cached
        try:
            self.cache = self._get_with_retries()
            return self.cache
        except FeedError:
            if self.cache_policy == "network-first" and cached is not None:
                self.stats["served_from_cache"] += 1
                return cached
            raise

    def wait_for_refresh(self, timeout: float = 10.0) -> None:
        if self._refresh is not None:
            self._refresh.join(timeout)

    def fetch_records(self) -> list[tuple[int, dict[str, Any]]]:
        feed = self.fetch()
        return parse_feed(feed.body, feed.content_type, self.url)
