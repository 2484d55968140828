"""Filtered-search strategy choice and compiled filters that outlive index mutations."""
from __future__ import annotations

import pytest

from mgw.index import make_index
from mgw.index.filtered import FilterPolicy, choose_strategy
from mgw.testing.index_contract import clustered


def test_choose_strategy_by_selectivity():
    assert choose_strategy(100, 100_000, True) == "brute_force"
    assert choose_strategy(10_000, 100_000, True) == "in_graph"
    assert choose_strategy(10_000, 100_000, False) == "overfetch"
    assert choose_strategy(50_000, 100_000, True) == "overfetch"
    assert choose_strategy(10, 100, True, FilterPolicy(brute_force_max=0, overfetch_min_selectivity=1.1)) == "in_graph"


@pytest.mark.parametrize("backend", ["hnswlib", "exact", "faiss"])
def test_stale_compiled_filter_never_returns_removed_or_old_vectors(backend):
    x = clustered(400, 16)
    ids = [f"i{n}" for n in range(400)]
    index = make_index(backend, 16, factory="IVF4,Flat") if backend == "faiss" else make_index(backend, 16)
    index.build(x, ids)
    flt = index.make_filter(ids[:50])
    index.search(x[0], 5, filter=flt)  # caches the subset's vectors on the filter
    index.remove(ids[:10])
    found, _ = index.search(x[:5], 5, filter=flt)
    assert not set(found.ravel()) & set(ids[:10])
    index.update(x[0], [ids[20]])  # i20 now sits exactly on query x[0]
    found, scores = index.search(x[0], 1, filter=flt)
    assert found[0] == ids[20] and scores[0] == pytest.approx(1.0, abs=1e-4)


def test_hnswlib_in_graph_filter_returns_k_at_mid_selectivity():
    x = clustered(3000, 16)
    ids = [str(n) for n in range(3000)]
    index = make_index("hnswlib", 16, M=8, efConstruction=50).build(x, ids)
    index.filter_policy = FilterPolicy(brute_force_max=10)
    allowed = set(ids[::10])  # 10%: in-graph
    found, _ = index.search(x[:20], 10, filter=allowed)
    assert index.last_filter_strategy == "in_graph"
    assert all(len(set(r)) == 10 and set(r) <= allowed for r in found)
