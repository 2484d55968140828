"""The L1 → L2 → L3 read path (seed §2.4.1) with semantic keys, invalidation, refresh-ahead
(stale-while-revalidate before expiry) and warming.

L3 is any callable `l3(request: CacheRequest) -> JSON-serialisable value` (the search pipeline or
the store). An answer is only ever served for the exact facets it was computed for (see keys.py).
L2 failures (Redis down) → one warning and L1+L3 until the retry interval passes, or an error when
`on_l2_error="fail"`; never a wrong answer.
"""
from __future__ import annotations

import logging
import math
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Literal

import numpy as np

from mgw.cache.base import CacheBackendError, Entry, dumps
from mgw.cache.invalidation import ALL, Invalidator
from mgw.cache.keys import EmbedFn, QueryKey, SemanticIndex, make_key
from mgw.cache.l1 import LRUCache
from mgw.cache.l2 import LFUCache
from mgw.errors import DataError

log = logging.getLogger(__name__)
TTL_CLASSES = {"search": 15.0, "pattern": 30.0, "stats": 60.0}  # seed §2.1.3, seconds in L1


@dataclass(frozen=True)
class CacheRequest:
    parsed: dict[str, Any]
    user: str | None
    model_version: str
    kind: str = "search"


@dataclass
class Lookup:
    value: Any
    level: Literal["L1", "L2", "L3"]
    key: str
    similarity: float | None = None  # set when the semantic layer matched another text
    stale: bool = False  # served from a stale entry because L3 failed
    refreshing: bool = False  # a refresh-ahead was scheduled
    timings_s: dict[str, float] = field(default_factory=dict)


class TieredCache:
    def __init__(self, l3: Callable[[CacheRequest], Any], *, l1: LRUCache | None = None, l2=None,
                 embed: EmbedFn | None = None, semantic_threshold: float = 0.95,
                 ttl_classes: dict[str, float] | None = None, refresh_ahead: float = 0.2,
                 on_l2_error: Literal["fallback", "fail"] = "fallback", l2_retry_s: float = 5.0,
                 invalidator: Invalidator | None = None, result_ids: Callable[[Any], Iterable[str]] | None = None,
                 clock: Callable[[], float] = time.monotonic, background: bool = True):
        if not 0 <= refresh_ahead < 1:
            raise DataError(f"refresh_ahead must be in [0, 1), got {refresh_ahead!r}")
        if on_l2_error not in ("fallback", "fail"):
            raise DataError(f"on_l2_error must be fallback or fail, got {on_l2_error!r}")
        self.l3 = l3
        self.clock = clock
        self.l1 = l1 if l1 is not None else LRUCache(clock=clock)
        self.l2 = l2
        self.embed = embed
        self.semantic = SemanticIndex(semantic_threshold) if embed is not None else None
        self.ttl_classes = dict(TTL_CLASSES if ttl_classes is None else ttl_classes)
        self.refresh_ahead = refresh_ahead
        self.on_l2_error = on_l2_error
        self.l2_retry_s = l2_retry_s
        self.invalidator = invalidator or Invalidator()
        self.invalidator.on_immediate.append(self._purge_l1)
        self.result_ids = result_ids
        self.background = background
        self._l2_down_until = -math.inf
        self._l2_warned = False
        self._inflight: dict[str, Future] = {}
        self._refreshing: set[str] = set()
        self._lock = threading.Lock()
        self._pool: ThreadPoolExecutor | None = None
        self.l3_calls = 0

    # ------------------------------------------------------------------ public
    def get(self, parsed: dict[str, Any], user: str | None = None, kind: str = "search") -> Lookup:
        t0 = time.perf_counter()
        identity = user if user is not None else "anon"
        version = self.invalidator.rollout.version_for(identity)
        qk = make_key(parsed, user, version, kind)
        request = CacheRequest(parsed, user, version, kind)
        timings: dict[str, float] = {}

        entry, level, key = self._lookup_levels(qk.key, timings)
        similarity, emb = None, None
        if entry is None and self.semantic is not None and qk.text:
            t = time.perf_counter()
            emb = np.asarray(self.embed([qk.text]))[0]
            timings["embed"] = time.perf_counter() - t
            match = self.semantic.lookup(qk.bucket, emb)
            if match is not None and match[0] != qk.key:
                entry, level, key = self._lookup_levels(match[0], timings)
                similarity = match[1] if entry is not None else None

        gens = self.invalidator.generations
        stale_fallback = None
        if entry is not None and not gens.fresh(entry.stale_tags):  # lazy-invalidated: recompute now
            stale_fallback, entry = entry, None
        self._count(level if entry is not None else None, entry, t0)

        if entry is not None:
            out = Lookup(entry.value, level, key, similarity, timings_s=timings)
            if level == "L2":
                self._put_l1(key, entry)
            if self._refresh_due(entry):
                out.refreshing = self._schedule_refresh(qk, request)
            out.timings_s["total"] = time.perf_counter() - t0
            return out

        t = time.perf_counter()
        try:
            value = self._fetch(qk, request)
        except Exception:
            if stale_fallback is None:
                raise
            log.warning("L3 failed; serving a stale entry for %s", qk.key)
            return Lookup(stale_fallback.value, "L2", qk.key, stale=True, timings_s=timings)
        timings["l3"] = time.perf_counter() - t
        self.l1.metrics.miss_latency(time.perf_counter() - t0)
        if self.semantic is not None and qk.text:
            if emb is None:
                emb = np.asarray(self.embed([qk.text]))[0]
            self.semantic.add(qk.bucket, emb, qk.key)
        timings["total"] = time.perf_counter() - t0
        return Lookup(value, "L3", qk.key, timings_s=timings)

    def warm(self, queries: Iterable[tuple[dict[str, Any], str | None]], kind: str = "search") -> int:
        """Pre-populate L2 (and L1) from trending queries (seed §2.4.1 warming). Returns entries written."""
        n = 0
        for parsed, user in queries:
            version = self.invalidator.rollout.version_for(user if user is not None else "anon")
            qk = make_key(parsed, user, version, kind)
            self._fetch(qk, CacheRequest(parsed, user, version, kind))
            n += 1
        return n

    def invalidate(self, pattern: str) -> None:
        self.invalidator.invalidate(pattern)

    def mark_stale(self, pattern: str) -> None:
        self.invalidator.mark_stale(pattern)

    def forget_user(self, user_id: str) -> int:
        """Right to be forgotten (seed §6.2): delete, not just invalidate, every entry of this user in L1 and L2
        and every remembered query text of theirs in the semantic layer. Returns the entries deleted.
        Register it with `mgw.store.stores.FORGETTERS.append(cache.forget_user)`."""
        marker = f":u={user_id}:"
        deleted = 0
        for level in self.levels().values():
            for key in [k for k in level.keys() if marker in k]:
                deleted += bool(level.delete(key))
        if self.semantic is not None:
            with self.semantic._lock:
                for bucket in [b for b in self.semantic._buckets if marker in b + ":"]:
                    del self.semantic._buckets[bucket]
        self.invalidate(f"user:{user_id}:*")
        return deleted

    def levels(self) -> dict[str, Any]:
        return {"L1": self.l1, **({"L2": self.l2} if self.l2 is not None else {})}

    def metrics(self) -> dict[str, dict]:
        out = {}
        for name, level in self.levels().items():
            try:
                pressure = level.memory_pressure()
            except CacheBackendError:
                pressure = math.nan
            out[name] = level.metrics.current(pressure).as_dict()
        return out

    def drain(self, timeout: float = 10.0) -> None:
        """Wait for scheduled background refreshes (tests, shutdown)."""
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None

    # ------------------------------------------------------------------ internals
    def _l2_usable(self) -> bool:
        return self.l2 is not None and self.clock() >= self._l2_down_until

    def _l2_failed(self, err: CacheBackendError) -> None:
        if self.on_l2_error == "fail":
            raise err
        self._l2_down_until = self.clock() + self.l2_retry_s
        if not self._l2_warned:
            log.warning("%s — continuing with L1+L3, retrying L2 every %.0f s", err, self.l2_retry_s)
            self._l2_warned = True

    def _valid(self, entry: Entry | None) -> bool:
        return entry is not None and self.invalidator.generations.valid(entry.tags)

    def _lookup_levels(self, key: str, timings: dict[str, float]) -> tuple[Entry | None, str | None, str]:
        t = time.perf_counter()
        entry = self.l1.get(key)
        timings["l1"] = timings.get("l1", 0.0) + time.perf_counter() - t
        if self._valid(entry):
            return entry, "L1", key
        if entry is not None:
            self.l1.delete(key)
        if self._l2_usable():
            t = time.perf_counter()
            try:
                entry = self.l2.get(key)
            except CacheBackendError as e:
                self._l2_failed(e)
                entry = None
            timings["l2"] = timings.get("l2", 0.0) + time.perf_counter() - t
            if self._valid(entry):
                return entry, "L2", key
        return None, None, key

    def _count(self, level: str | None, entry: Entry | None, t0: float) -> None:
        now = self.clock()
        age = now - entry.created_at if entry is not None else 0.0
        if level == "L1":
            self.l1.metrics.hit(age)
            return
        latency = time.perf_counter() - t0
        self.l1.metrics.miss(latency if level == "L2" else None)
        if self.l2 is not None and self._l2_usable():
            if level == "L2":
                self.l2.metrics.hit(age)
            else:
                self.l2.metrics.miss()

    def _refresh_due(self, entry: Entry) -> bool:
        if self.refresh_ahead <= 0 or not math.isfinite(entry.expires_at):
            return False
        return self.clock() >= entry.expires_at - self.refresh_ahead * entry.ttl()

    def _schedule_refresh(self, qk: QueryKey, request: CacheRequest) -> bool:
        with self._lock:
            if qk.key in self._refreshing:
                return False
            self._refreshing.add(qk.key)

        def job() -> None:
            try:
                self._fetch(qk, request)
            except Exception as e:  # a failed refresh leaves the old entry to expire normally
                log.warning("refresh-ahead of %s failed: %s", qk.key, e)
            finally:
                with self._lock:
                    self._refreshing.discard(qk.key)

        if self.background:
            with self._lock:
                if self._pool is None:
                    self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mgw-cache-refresh")
                self._pool.submit(job)
        else:
            job()
        return True

    def _fetch(self, qk: QueryKey, request: CacheRequest) -> Any:
        """Compute from L3 once per key at a time (single flight) and write L1 and L2."""
        with self._lock:
            fut = self._inflight.get(qk.key)
            leader = fut is None
            if leader:
                fut = self._inflight[qk.key] = Future()
        if not leader:
            return fut.result()
        try:
            t = time.perf_counter()
            value = self.l3(request)
            self.l3_calls += 1
            l3_s = time.perf_counter() - t
            self._store(qk, value)
            if self.l2 is not None:
                self.l2.metrics.miss_latency(l3_s)
            fut.set_result(value)
            return value
        except BaseException as e:
            fut.set_exception(e)
            raise
        finally:
            with self._lock:
                self._inflight.pop(qk.key, None)

    def _store(self, qk: QueryKey, value: Any) -> None:
        raw = dumps(value)  # SerializationError here, at put, before any level changes
        tags = [ALL, *qk.tags]
        if self.result_ids is not None:
            tags += [f"content:{cid}" for cid in self.result_ids(value)]
        gens, stale = self.invalidator.generations.current(tags)
        now = self.clock()
        kind = qk.bucket.split(":", 1)[0]
        l1_ttl = self.ttl_classes.get(kind, self.l1.ttl)
        entry = Entry(value, now, now + l1_ttl, gens, stale, nbytes=len(raw), kind=kind)
        self.l1.put(qk.key, entry)
        if self._l2_usable():
            l2_ttl = max(self.l2.ttl, l1_ttl)
            try:
                self.l2.put(qk.key, Entry(value, now, now + l2_ttl, gens, stale, nbytes=len(raw), kind=kind))
            except CacheBackendError as e:
                self._l2_failed(e)

    def _put_l1(self, key: str, entry: Entry) -> None:
        """Promote an L2 hit to L1 with L1's TTL for its kind (never past the L2 expiry)."""
        now = self.clock()
        ttl = self.ttl_classes.get(entry.kind, self.l1.ttl)
        self.l1.put(key, Entry(entry.value, entry.created_at, min(entry.expires_at, now + ttl), entry.tags,
                               entry.stale_tags, entry.nbytes, entry.kind))

    def _purge_l1(self, tag: str) -> None:
        self.l1.purge(lambda e: tag in e.tags and not self.invalidator.generations.valid(e.tags))


def build_cache(cache_params, l3: Callable[[CacheRequest], Any], *, embed: EmbedFn | None = None,
                clock: Callable[[], float] = time.monotonic, **kw) -> TieredCache:
    """A TieredCache from `Params.cache` (L2 on Redis when `cache.L2.url` is set)."""
    p = cache_params
    l1 = LRUCache(p.L1.maxSize, p.L1.ttl, max_bytes=p.L1.maxBytes, clock=clock)
    if p.L2.url:
        from mgw.cache.redis_l2 import RedisLFUCache

        l2 = RedisLFUCache(p.L2.url, p.L2.maxSize, p.L2.ttl, max_bytes=p.L2.maxBytes, clock=clock)
        try:
            l2.ping()
        except CacheBackendError as e:
            if p.on_l2_error == "fail":
                raise
            log.warning("%s — starting with L1+L3 only (cache.on_l2_error=fallback)", e)
    else:
        l2 = LFUCache(p.L2.maxSize, p.L2.ttl, max_bytes=p.L2.maxBytes, clock=clock)
    return TieredCache(l3, l1=l1, l2=l2, embed=embed if p.semantic else None,
                       semantic_threshold=p.semantic_threshold, ttl_classes=dict(p.ttl_classes),
                       refresh_ahead=p.refresh_ahead, on_l2_error=p.on_l2_error, l2_retry_s=p.l2_retry_s,
                       clock=clock, **kw)
