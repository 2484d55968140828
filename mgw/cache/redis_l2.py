"""L2 on Redis/Valkey: LFU with TTL and an entry limit that mgw enforces.

Redis evicts by *memory* (maxmemory-policy), not by entry count, so the count limit of seed §2.4.1
(10,000 entries, LFU) is kept here: a sorted set `<prefix>freq` (score = hit count) and one
`<prefix>exp` (score = expiry time, ms) hold every key; Lua scripts make put-with-eviction and
get-with-count atomic. Expired keys are removed from both sets at the next put, never by SCAN.
Ties between equally frequent keys go to Redis's member order (lexicographic; keys are hashes),
not LRU as in the in-process L2 — the contract tests do not depend on tie order.
Every Redis failure surfaces as `CacheBackendError`; the tiered cache decides to fall back or fail.
"""
from __future__ import annotations

import time
from typing import Callable, Iterator

from mgw.cache.base import CacheBackendError, Entry
from mgw.cache.l1 import _check_bytes, _check_size, _check_ttl
from mgw.cache.metrics import LevelMetrics
from mgw.errors import DataError

_PUT = """
local prefix, key, raw = ARGV[1], ARGV[2], ARGV[3]
local exp_at, now, ttl, max = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7])
local fz, ez = prefix .. 'freq', prefix .. 'exp'
local dead = redis.call('ZRANGEBYSCORE', ez, '-inf', now)
for _, m in ipairs(dead) do
  redis.call('DEL', prefix .. 'k:' .. m)
  redis.call('ZREM', fz, m)
end
if #dead > 0 then redis.call('ZREMRANGEBYSCORE', ez, '-inf', now) end
local evicted = {}
if not redis.call('ZSCORE', fz, key) then
  while redis.call('ZCARD', fz) >= max do
    local p = redis.call('ZPOPMIN', fz)
    redis.call('DEL', prefix .. 'k:' .. p[1])
    redis.call('ZREM', ez, p[1])
    table.insert(evicted, p[1])
  end
  redis.call('ZADD', fz, 1, key)
end
redis.call('SET', prefix .. 'k:' .. key, raw, 'PX', ttl)
redis.call('ZADD', ez, exp_at, key)
return {#dead, evicted}
"""

_GET = """
local prefix, key = ARGV[1], ARGV[2]
local raw = redis.call('GET', prefix .. 'k:' .. key)
if not raw then
  redis.call('ZREM', prefix .. 'freq', key)
  redis.call('ZREM', prefix .. 'exp', key)
  return false
end
redis.call('ZINCRBY', prefix .. 'freq', 1, key)
return raw
"""

_DEL = """
local prefix, key = ARGV[1], ARGV[2]
redis.call('ZREM', prefix .. 'exp', key)
local n = redis.call('ZREM', prefix .. 'freq', key)
redis.call('DEL', prefix .. 'k:' .. key)
return n
"""

_SHRINK = """
local prefix, max = ARGV[1], tonumber(ARGV[2])
local fz = prefix .. 'freq'
local evicted = {}
while redis.call('ZCARD', fz) > max do
  local p = redis.call('ZPOPMIN', fz)
  redis.call('DEL', prefix .. 'k:' .. p[1])
  redis.call('ZREM', prefix .. 'exp', p[1])
  table.insert(evicted, p[1])
end
return evicted
"""

_PRUNE = """
local prefix, now = ARGV[1], tonumber(ARGV[2])
local dead = redis.call('ZRANGEBYSCORE', prefix .. 'exp', '-inf', now)
for _, m in ipairs(dead) do
  redis.call('DEL', prefix .. 'k:' .. m)
  redis.call('ZREM', prefix .. 'freq', m)
end
redis.call('ZREMRANGEBYSCORE', prefix .. 'exp', '-inf', now)
return #dead
"""


class RedisLFUCache:
    """Same contract as `LFUCache`, on a Redis server at `url` (redis://host:port/db)."""

    name = "L2"

    def __init__(self, url: str, max_size: int = 10_000, ttl: float = 300.0, *, max_bytes: int | None = 256 << 20,
                 prefix: str = "mgw:cache:", clock: Callable[[], float] = time.monotonic,
                 timeout_s: float = 0.5):
        import redis  # the client is a dependency; imported here so the in-process path never needs it

        self.max_size = _check_size(max_size)
        self.ttl = _check_ttl(ttl)
        self.max_bytes = _check_bytes(max_bytes)
        self.url = url
        self.prefix = prefix
        self.clock = clock
        self.metrics = LevelMetrics(clock)
        self._errors = (redis.exceptions.RedisError, OSError)
        try:
            self._r = redis.Redis.from_url(url, socket_timeout=timeout_s, socket_connect_timeout=timeout_s)
        except ValueError as e:
            raise DataError(f"cache.L2.url is not a Redis URL: {url!r} ({e})") from None
        self._put = self._r.register_script(_PUT)
        self._get = self._r.register_script(_GET)
        self._del = self._r.register_script(_DEL)
        self._shrink = self._r.register_script(_SHRINK)
        self._prune = self._r.register_script(_PRUNE)

    def _call(self, fn, *args, **kw):
        try:
            return fn(*args, **kw)
        except self._errors as e:
            raise CacheBackendError(f"Redis L2 at {self.url} failed: {type(e).__name__}: {e}") from None

    def _now_ms(self) -> int:
        return int(self.clock() * 1000)

    # ------------------------------------------------------------------ contract
    def ping(self) -> bool:
        return bool(self._call(self._r.ping))

    def get(self, key: str) -> Entry | None:
        raw = self._call(self._get, args=[self.prefix, key])
        if raw is None:
            return None
        entry = Entry.from_bytes(raw)
        if entry.expired(self.clock()):  # the cache's clock is the authority (tests inject one)
            self._call(self._del, args=[self.prefix, key])
            self.metrics.expiration()
            return None
        return entry

    def put(self, key: str, entry: Entry) -> list[str]:
        raw = entry.to_bytes()
        now = self._now_ms()
        exp_ms = int(entry.expires_at * 1000)
        ttl_ms = max(1, exp_ms - now)
        n_dead, evicted = self._call(self._put, args=[self.prefix, key, raw, exp_ms, now, ttl_ms, self.max_size])
        evicted = [k.decode() for k in evicted]
        if n_dead:
            self.metrics.expiration(int(n_dead))
        if evicted:
            self.metrics.eviction(len(evicted))
        return evicted

    def delete(self, key: str) -> bool:
        return bool(self._call(self._del, args=[self.prefix, key]))

    def clear(self) -> None:
        members = self._call(self._r.zrange, self.prefix + "freq", 0, -1)
        pipe = self._r.pipeline(transaction=True)
        for i in range(0, len(members), 500):
            pipe.delete(*[self.prefix.encode() + b"k:" + m for m in members[i:i + 500]])
        pipe.delete(self.prefix + "freq", self.prefix + "exp")
        self._call(pipe.execute)

    def resize(self, max_size: int) -> list[str]:
        self.max_size = _check_size(max_size)
        evicted = [k.decode() for k in self._call(self._shrink, args=[self.prefix, self.max_size])]
        if evicted:
            self.metrics.eviction(len(evicted))
        return evicted

    def prune(self) -> int:
        """Drop expired keys from the bookkeeping sets (put does this too)."""
        n = int(self._call(self._prune, args=[self.prefix, self._now_ms()]))
        if n:
            self.metrics.expiration(n)
        return n

    def __len__(self) -> int:
        self.prune()
        return int(self._call(self._r.zcard, self.prefix + "freq"))

    def __contains__(self, key: str) -> bool:
        score = self._call(self._r.zscore, self.prefix + "exp", key)
        return score is not None and score > self._now_ms()

    def keys(self) -> Iterator[str]:
        return iter([m.decode() for m in self._call(self._r.zrange, self.prefix + "freq", 0, -1)])

    def frequency(self, key: str) -> int:
        score = self._call(self._r.zscore, self.prefix + "freq", key)
        return int(score or 0)

    def bytes_used(self) -> int:
        """Redis's own `used_memory` (the whole server: mgw shares it with nobody in tests and benches)."""
        return int(self._call(self._r.info, "memory")["used_memory"])

    def memory_pressure(self) -> float:
        info = self._call(self._r.info, "memory")
        budget = int(info.get("maxmemory") or 0) or self.max_bytes
        if not budget:
            return len(self) / self.max_size
        return min(1.0, int(info["used_memory"]) / budget)

    def close(self) -> None:
        self._r.close()
