from __future__ import annotations

import threading

import pytest

from mgw.cache.base import SerializationError, dumps
from mgw.cache.l1 import LRUCache
from mgw.errors import DataError
from mgw.testing.cache_contract import FakeClock, entry


def test_lru_evicts_least_recently_used():
    clock = FakeClock()
    l1 = LRUCache(3, 15, clock=clock)
    for k in "abc":
        l1.put(k, entry(k, clock, ttl=15))
    assert l1.get("a").value == "a"  # a is now most recent
    assert l1.put("d", entry("d", clock, ttl=15)) == ["b"]
    assert sorted(l1.keys()) == ["a", "c", "d"]
    assert l1.metrics.total.evictions == 1


def test_ttl_on_injected_clock():
    clock = FakeClock()
    l1 = LRUCache(10, 15, clock=clock)
    l1.put("a", entry(1, clock, ttl=15))
    clock.advance(14.99)
    assert l1.get("a") is not None
    clock.advance(0.02)
    assert l1.get("a") is None and len(l1) == 0
    assert l1.metrics.total.expirations == 1


def test_resize_purge_and_bad_sizes():
    clock = FakeClock()
    l1 = LRUCache(5, 15, clock=clock)
    for i in range(5):
        l1.put(str(i), entry(i, clock, ttl=15, tags={"t": i % 2}))
    assert l1.resize(2) == ["0", "1", "2"]
    assert l1.purge(lambda e: e.tags["t"] == 1) == 1 and list(l1.keys()) == ["4"]
    for bad in (0, -1, 1.5, True):
        with pytest.raises(DataError):
            LRUCache(bad, 15)
    with pytest.raises(DataError):
        LRUCache(10, 0)


def test_thread_safety_under_concurrent_puts_and_gets():
    clock = FakeClock()
    l1 = LRUCache(50, 15, clock=clock)

    def work(offset):
        for i in range(2000):
            k = f"k{(i * 7 + offset) % 120}"
            l1.put(k, entry(i, clock, ttl=15))
            l1.get(k)

    threads = [threading.Thread(target=work, args=(o,)) for o in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(l1) == 50 and len(list(l1.keys())) == 50


def test_unserialisable_values_fail_at_put():
    with pytest.raises(SerializationError):
        dumps({"x": object()})
    with pytest.raises(SerializationError):
        dumps({"x": float("nan")})
