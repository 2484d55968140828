"""Contract every L2 implementation passes (in-process `LFUCache`, Redis `RedisLFUCache`).

Use: subclass `L2Contract` in a test module and provide a `make_l2` fixture returning
`factory(max_size, ttl, clock) -> level` (a fresh, empty level each call).
"""
from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mgw.cache.base import Entry


class FakeClock:
    """Injectable clock: seconds, moved by hand."""

    def __init__(self, t: float = 1_000.0):
        self.t = t

    def __call__(self) -> float:
        return self.t

    def advance(self, seconds: float) -> None:
        self.t += seconds


def entry(value, clock: FakeClock, ttl: float = 300.0, **kw) -> Entry:
    return Entry(value, clock(), clock() + ttl, **kw)


class L2Contract:
    @pytest.fixture
    def clock(self) -> FakeClock:
        return FakeClock()

    def test_roundtrip_and_missing(self, make_l2, clock):
        l2 = make_l2(10, 300, clock)
        value = {"results": [{"id": "t1", "score": 0.5}], "total": 1}
        l2.put("k1", entry(value, clock, tags={"search": 2}, stale_tags={"user:u": 1}, kind="search"))
        got = l2.get("k1")
        assert got.value == value and got.tags == {"search": 2} and got.stale_tags == {"user:u": 1}
        assert got.created_at == clock() and got.expires_at == clock() + 300
        got.value["total"] = 99  # a returned value is a copy
        assert l2.get("k1").value["total"] == 1
        assert l2.get("nope") is None
        assert len(l2) == 1 and "k1" in l2 and "nope" not in l2

    def test_ttl_expiry_on_the_injected_clock(self, make_l2, clock):
        l2 = make_l2(10, 300, clock)
        l2.put("short", entry(1, clock, ttl=5))
        l2.put("long", entry(2, clock, ttl=300))
        clock.advance(4.9)
        assert l2.get("short").value == 1
        clock.advance(0.2)
        assert l2.get("short") is None
        assert l2.get("long").value == 2
        assert len(l2) == 1

    def test_entry_limit_is_enforced(self, make_l2, clock):
        l2 = make_l2(5, 300, clock)
        evicted = []
        for i in range(12):
            evicted += l2.put(f"k{i}", entry(i, clock))
        assert len(l2) == 5
        assert len(evicted) == 7 and len(set(evicted)) == 7
        assert all(l2.get(k) is None for k in evicted)
        assert l2.metrics.total.evictions == 7

    def test_lfu_keeps_frequent_entries(self, make_l2, clock):
        l2 = make_l2(4, 300, clock)
        for k in ("hot1", "hot2"):
            l2.put(k, entry(k, clock))
            for _ in range(5):
                assert l2.get(k) is not None
        for i in range(20):  # a stream of one-hit wonders
            l2.put(f"cold{i}", entry(i, clock))
        assert l2.get("hot1").value == "hot1" and l2.get("hot2").value == "hot2"
        assert l2.frequency("hot1") > l2.frequency("cold19")

    def test_overwrite_keeps_count_and_replaces_value(self, make_l2, clock):
        l2 = make_l2(3, 300, clock)
        l2.put("a", entry(1, clock))
        l2.put("a", entry(2, clock))
        assert len(l2) == 1 and l2.get("a").value == 2

    def test_delete_clear_resize(self, make_l2, clock):
        l2 = make_l2(10, 300, clock)
        for i in range(8):
            l2.put(f"k{i}", entry(i, clock))
        for _ in range(3):
            l2.get("k7")
        assert l2.delete("k0") is True and l2.delete("k0") is False
        evicted = l2.resize(3)
        assert len(evicted) == 4 and len(l2) == 3 and "k7" not in evicted
        assert l2.get("k7").value == 7
        l2.clear()
        assert len(l2) == 0 and l2.get("k7") is None

    def test_memory_pressure_is_a_fraction(self, make_l2, clock):
        l2 = make_l2(10, 300, clock)
        l2.put("a", entry("x" * 1000, clock))
        assert 0.0 <= l2.memory_pressure() <= 1.0
        assert l2.bytes_used() > 0

    @settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                            HealthCheck.differing_executors])
    @given(ops=st.lists(st.tuples(st.sampled_from(["put", "get", "del", "tick"]), st.integers(0, 9),
                                  st.integers(0, 1000)), max_size=60))
    def test_never_returns_a_wrong_value(self, make_l2, ops):
        """Whatever the sequence, a hit returns the last value put under that key, and the limit holds."""
        clock = FakeClock()
        l2 = make_l2(4, 300, clock)
        last: dict[str, int] = {}
        for op, k, v in ops:
            key = f"k{k}"
            if op == "put":
                l2.put(key, entry(v, clock, ttl=50))
                last[key] = v
            elif op == "get":
                got = l2.get(key)
                assert got is None or got.value == last.get(key)
            elif op == "del":
                l2.delete(key)
                last.pop(key, None)
            else:
                clock.advance(v / 40)
            assert len(l2) <= 4
