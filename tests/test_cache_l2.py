"""Both L2 implementations pass the same contract; the Redis one against a real redis-server."""
from __future__ import annotations

import itertools

import pytest

from mgw.cache.l2 import LFUCache
from mgw.testing.cache_contract import FakeClock, L2Contract, entry
from redis_server import redis_url  # noqa: F401  (fixture)

_prefixes = itertools.count()


class TestInProcessL2(L2Contract):
    @pytest.fixture
    def make_l2(self):
        return lambda max_size, ttl, clock: LFUCache(max_size, ttl, max_bytes=1 << 20, clock=clock)

    def test_lfu_ties_break_least_recently_used(self):
        clock = FakeClock()
        l2 = LFUCache(2, 300, clock=clock)
        l2.put("a", entry(1, clock))
        l2.put("b", entry(2, clock))
        assert l2.put("c", entry(3, clock)) == ["a"]


class TestRedisL2(L2Contract):
    @pytest.fixture
    def make_l2(self, redis_url):  # noqa: F811
        from mgw.cache.redis_l2 import RedisLFUCache

        made = []

        def factory(max_size, ttl, clock):
            l2 = RedisLFUCache(redis_url, max_size, ttl, max_bytes=1 << 30, clock=clock,
                               prefix=f"test{next(_prefixes)}:")
            made.append(l2)
            return l2

        yield factory
        for l2 in made:
            l2.clear()
            l2.close()

    def test_unreachable_server_raises_backend_error(self):
        from mgw.cache.base import CacheBackendError
        from mgw.cache.redis_l2 import RedisLFUCache

        l2 = RedisLFUCache("redis://127.0.0.1:1/0", 10, 300, timeout_s=0.2)
        with pytest.raises(CacheBackendError, match="127.0.0.1:1"):
            l2.get("k")
        with pytest.raises(CacheBackendError):
            l2.put("k", entry(1, FakeClock()))

    def test_bad_url_is_a_data_error(self):
        from mgw.cache.redis_l2 import RedisLFUCache
        from mgw.errors import DataError

        with pytest.raises(DataError, match="not a Redis URL"):
            RedisLFUCache("http://nope", 10, 300)
