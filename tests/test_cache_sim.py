from __future__ import annotations

import math

import pytest

from mgw.cache.bench import ExactCatalogSearch, run_benchmark
from mgw.cache.l1 import LRUCache
from mgw.cache.l2 import LFUCache
from mgw.cache.simulator import (belady_hits, lfu_hits, lru_hits, movielens_workload, simulate, tiered_hits,
                                 zipf_workload)
from mgw.testing.cache_contract import FakeClock, entry


def _replay(level, keys, clock):
    hits = 0
    for k in keys:
        if level.get(str(k)) is not None:
            hits += 1
        else:
            level.put(str(k), entry(k, clock, ttl=math.inf))
    return hits


def test_simulator_policies_agree_with_the_real_cache_classes():
    w = zipf_workload(0.9, 300, 3000, variants=2, seed=1)
    keys = w.keys(semantic=False)
    clock = FakeClock()
    assert lru_hits(keys, 40) == _replay(LRUCache(40, 1e9, clock=clock), keys, clock)
    assert lfu_hits(keys, 40) == _replay(LFUCache(40, 1e9, clock=clock), keys, clock)


def test_belady_is_an_upper_bound_and_curves_are_monotone():
    w = zipf_workload(1.0, 500, 5000, seed=3)
    keys = w.keys(False)
    prev = 0
    for size in (5, 20, 80, 320):
        opt = belady_hits(keys, size)
        assert opt >= lru_hits(keys, size) and opt >= lfu_hits(keys, size) and opt >= prev
        prev = opt
    assert belady_hits([1, 2, 3, 1, 2, 3], 2) == 2  # hand-checked: hits at positions 3 and 5


def test_ttl_limits_hits_and_semantic_layer_helps():
    w = zipf_workload(1.2, 1000, 4000, variants=3, qps=10, seed=5)
    times = w.times.tolist()
    h_short = sum(tiered_hits(w.keys(True), times, 50, 0.01, 500, 0.01))
    h_long = sum(tiered_hits(w.keys(True), times, 50, 15, 500, 300))
    assert h_short < h_long
    res = simulate([w], [10, 100], l1_size=50, l2_size=500, progress=False)
    e = res["workloads"][w.name]
    assert e["distinct_keys"]["semantic"] < e["distinct_keys"]["exact"]
    assert all(s >= x for s, x in zip(e["curves"]["semantic"]["lru"], e["curves"]["exact"]["lru"]))
    assert e["seed_config_hit_rate"]["exact"]["meets_target"] == (e["seed_config_hit_rate"]["exact"]["total"] > 0.8)


def test_movielens_trace(real_data_dir):
    w = movielens_workload(real_data_dir / "movielens" / "ml-latest-small" / "ratings.csv", n_requests=2000)
    assert len(w.intents) == 2000 and (w.times[1:] >= w.times[:-1]).all()


def test_bad_workload_parameters():
    from mgw.errors import DataError

    with pytest.raises(DataError):
        zipf_workload(0, 10, 10)
    with pytest.raises(FileNotFoundError):
        movielens_workload("/nonexistent/ratings.csv")


def test_benchmark_harness_with_a_small_exact_search():
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(0)
    cat = pd.DataFrame({"entity_id": [f"e{i}" for i in range(50)], "title": [f"t{i}" for i in range(50)],
                        "platforms": [["netflix"] if i % 2 else ["hulu"] for i in range(50)],
                        "genres": [["drama"]] * 50, "type": ["movie"] * 50, "release_year": [2000] * 50})
    vecs = rng.standard_normal((50, 8)).astype("float32")
    embed = lambda texts: rng.standard_normal((len(texts), 8)).astype("float32")  # noqa: E731
    search = ExactCatalogSearch(cat, vecs, embed, k=5)
    queries = [{"text": f"q{i}", "platforms": {"all": ["netflix"], "any": [], "none": []}} for i in range(12)]
    res = run_benchmark(queries, search, miss_path="test")
    assert res["miss"]["n"] == 12 and res["L1_hit"]["n"] == 12 and res["L2_hit_inprocess"]["n"] == 12
    from mgw.cache.tiered import CacheRequest

    got = search(CacheRequest(queries[0], None, "v0"))
    assert len(got) == 5 and all(int(r["id"][1:]) % 2 == 1 for r in got)  # netflix titles only
