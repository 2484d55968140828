from __future__ import annotations

from mgw.cache.autotune import AutoTuner
from mgw.cache.l1 import LRUCache
from mgw.testing.cache_contract import FakeClock, entry


def test_grows_20_percent_when_hit_rate_low_and_memory_free():
    clock = FakeClock()
    l1 = LRUCache(100, 15, max_bytes=10**9, clock=clock)
    tuner = AutoTuner(l1, interval_s=60)
    for _ in range(7):
        l1.metrics.miss()
    for _ in range(3):
        l1.metrics.hit(1.0)
    assert tuner.maybe_step() is None  # interval not over
    clock.advance(60)
    d = tuner.maybe_step()
    assert d.action == "grow" and d.new_size == 120 and l1.max_size == 120
    assert abs(d.snapshot.hit_rate - 0.3) < 1e-9


def test_keeps_size_when_hit_rate_meets_target_or_memory_is_tight():
    clock = FakeClock()
    l1 = LRUCache(100, 15, max_bytes=10**9, clock=clock)
    tuner = AutoTuner(l1)
    for _ in range(9):
        l1.metrics.hit(0.0)
    l1.metrics.miss()
    clock.advance(60)
    assert tuner.step().action == "keep"
    tight = LRUCache(100, 15, max_bytes=1000, clock=clock)
    tight.put("big", entry("x", clock, nbytes=800))  # pressure 0.8 ≥ 0.7: no growth
    tight.metrics.miss()
    clock.advance(60)
    assert AutoTuner(tight).step().action == "keep"


def test_shrinks_10_percent_on_heavy_evictions_under_pressure():
    clock = FakeClock()
    l1 = LRUCache(50, 15, max_bytes=50 * 100, clock=clock)
    tuner = AutoTuner(l1)
    for i in range(400):  # 350 evictions in one minute, every slot holding 100 bytes → pressure 1.0
        l1.put(f"k{i}", entry(i, clock, nbytes=100))
        l1.get(f"k{i}")
    clock.advance(60)
    d = tuner.step()
    assert d.snapshot.eviction_rate == 350 and d.snapshot.memory_pressure > 0.9
    assert d.action == "shrink" and l1.max_size == 45 and len(l1) == 45
