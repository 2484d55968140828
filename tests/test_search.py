"""Search pipeline with small injected parts: a bag-of-words embedder and the exact index."""
from __future__ import annotations

import hashlib

import numpy as np
import pytest

from mgw.errors import DataError
from mgw.hypergraph.availability import ModelledAvailability
from mgw.hypergraph.store import HypergraphStore
from mgw.index import make_index
from mgw.search import SearchPipeline, UtilityReranker, cache_key, public_response
from test_hypergraph import REGIONS, small_catalog

DIM = 32


def word_vec(word: str) -> np.ndarray:
    seed = int.from_bytes(hashlib.sha256(word.lower().encode()).digest()[:4], "little")
    return np.random.default_rng(seed).standard_normal(DIM)


def embed(texts):
    out = np.stack([sum((word_vec(w) for w in t.split()), np.zeros(DIM)) + 1e-3 for t in texts])
    return (out / np.linalg.norm(out, axis=1, keepdims=True)).astype(np.float32)


def small_pipeline(n: int = 400, candidates: int = 100) -> tuple[SearchPipeline, "object", np.ndarray]:
    """A real SearchPipeline over a seeded n-title catalog with word-hash embeddings: (pipeline, catalog, vectors)."""
    cat = small_catalog(n, seed=4)
    cat["title"] = [f"Title {i}" for i in range(len(cat))]
    cat["description"] = ["space robots" if i % 7 == 0 else "village baking" for i in range(len(cat))]
    store = HypergraphStore.from_catalog(cat, ModelledAvailability(REGIONS, 0.3, 1).rows(cat), REGIONS)
    vectors = embed([f"{d} {' '.join(g)}" for d, g in zip(cat.description, cat.genres)])
    index = make_index("exact", DIM, "cosine")
    index.build(vectors, list(cat.entity_id))
    return SearchPipeline(cat, store, index, embed, UtilityReranker(store), candidates=candidates, k=10), cat, vectors


@pytest.fixture(scope="module")
def pipe():
    return small_pipeline()[0]


def test_filters_are_applied_inside_search(pipe):
    resp = pipe.search("space robots comedies not on Netflix in UK", k=50)
    allowed = set(pipe.store.query(["and", ["region", "GB"], ["not", ["avail", "netflix", "GB"]],
                                    ["genre", "comedy"]]))
    assert resp["results"] and len(resp["results"]) == min(50, len(allowed))
    assert {r["id"] for r in resp["results"]} <= allowed
    assert resp["metadata"]["filter_matches"] == len(allowed)
    assert resp["filters"]["platforms"]["none"] == ["netflix"]
    assert resp["filters"]["text"] == "space robots"


def test_semantic_text_ranks_matching_descriptions_first(pipe):
    resp = pipe.search("space robots", k=10)
    assert all(r["description"] == "space robots" for r in resp["results"][:5])


def test_response_format(pipe):
    resp = public_response(pipe.search("space robots on netflix", k=3, explain=True))
    assert set(resp) == {"query", "filters", "results", "pagination", "metadata", "debug"}
    r = resp["results"][0]
    assert set(r) >= {"id", "title", "description", "score", "availability", "deepLinks", "metadata"}
    assert any(a["platform"] == "netflix" and "US" in a["availableRegions"] for a in r["availability"])
    assert r["deepLinks"]["netflix"].startswith("https://www.netflix.com/search?q=Title")
    assert resp["metadata"]["from_cache"] is False and resp["metadata"]["model"] == "utility-v1"
    stages = resp["debug"]["stages_ms"]
    assert set(stages) == {"parse_ms", "embed_ms", "filter_ms", "ann_ms", "rerank_ms", "format_ms", "total_ms"}
    assert stages["total_ms"] >= stages["ann_ms"] >= 0


def test_pagination_is_consistent(pipe):
    full = pipe.search("village baking", k=20)["results"]
    page2 = pipe.search("village baking", k=5, offset=5)
    assert [r["id"] for r in page2["results"]] == [r["id"] for r in full[5:10]]
    assert page2["pagination"] == {"offset": 5, "limit": 5, "total": 100}


def test_no_match_returns_empty(pipe):
    resp = pipe.search("westerns on hulu in Japan")
    assert resp["results"] == [] and resp["metadata"]["filter_matches"] == 0


def test_scores_sorted_and_utility_formula(pipe):
    resp = pipe.search("space robots", k=10)
    scores = [r["score"] for r in resp["results"]]
    assert scores == sorted(scores, reverse=True)
    rr = pipe.reranker
    top = resp["results"][0]
    i = pipe.store.index[top["id"]]
    expect = 0.6 * max(0.0, min(1.0, top["similarity"])) + 0.2 * rr.popularity[i] + 0.1 * rr.recency[i]
    assert top["score"] == pytest.approx(expect, abs=1e-5)


def test_injected_reranker_is_used(pipe):
    class Reverse:
        version = "reverse-test"

        def rerank(self, user, ids, scores, k=None, query_vector=None):
            assert user == "u1" and query_vector.shape == (DIM,)
            return list(ids)[::-1], np.arange(len(ids), dtype=float)[::-1]

    p2 = pipe.replace(reranker=Reverse())
    base = pipe.index.search(embed(["space robots"])[0], 100)[0]
    resp = p2.search("space robots", user="u1", k=3)
    assert [r["id"] for r in resp["results"]] == list(base[::-1][:3])
    assert resp["metadata"]["model"] == "reverse-test"


def test_bad_arguments(pipe):
    with pytest.raises(DataError):
        pipe.search("x", k=0)
    with pytest.raises(DataError):
        pipe.search("x", offset=-1)


def test_cache_key_equal_for_equal_meaning():
    from mgw.query import parse

    a = cache_key(parse("comedies on Prime Video and Netflix in the UK"), None, 10, 0)
    b = cache_key(parse("Netflix and Amazon comedies in UK"), None, 10, 0)
    assert a == b and a != cache_key(parse("comedies on Netflix"), None, 10, 0)


def test_bench_search_reports_stages_and_the_utility_fallback(pipe):
    from mgw.config import load_params
    from mgw.search import bench_search

    class Identity:
        version = "identity-test"

        def rerank(self, user, ids, scores, k=None, query_vector=None):
            return list(ids), np.asarray(scores, float)

    p2 = pipe.replace(reranker=Identity())
    params = load_params(overrides={"search": {"bench_queries": 20}})
    r = bench_search(p2, params, queries=["space robots", "comedies not on netflix in UK", "village baking"])
    assert r["queries"] == 20 and r["reranker"] == "identity-test"
    assert set(r["stages"]) == set(r["stages_thread_cpu"]) >= {"embed_ms", "ann_ms", "rerank_ms", "total_ms"}
    assert r["with_utility_reranker"]["reranker"] == "utility-v1"
    assert r["end_to_end_minus_embed"]["p50_ms"] <= r["stages"]["total_ms"]["p50_ms"]
    assert set(r["headline"]) == {"p50_ms", "p99_ms", "p50_ms_excluding_embedding", "embed_query_p50_ms"}
    assert r["headline"]["p99_ms"] >= r["headline"]["p50_ms"] > 0
    assert set(r["throughput_qps"]) == {"threads_1", "threads_2", "batch_32"} and min(r["throughput_qps"].values()) > 0


def test_bench_search_measures_uncached_embedding_and_the_lru_apart(pipe):
    from mgw.config import load_params
    from mgw.embed import QueryEmbeddingLRU
    from mgw.search import bench_search

    calls = []

    def counting(texts):
        calls.append(len(texts))
        return embed(texts)

    lru = QueryEmbeddingLRU(counting, 64)
    params = load_params(overrides={"search": {"bench_queries": 12}})
    r = bench_search(pipe.replace(embed=lru), params, queries=["space robots", "village baking"])
    assert r["repeated_query"]["lru_size"] == 64 and lru.hits >= 12
    assert sum(calls) >= 12 + 12  # the latency pass embedded every search (the LRU was bypassed)


def test_batch_path_equals_one_by_one(pipe):
    queries = ["space robots", "comedies not on netflix in UK", "village baking on hulu", "westerns on hulu in Japan"]
    many = pipe.search_many(queries, k=7)
    for q, got in zip(queries, many):
        one = pipe.search(q, k=7)
        assert [r["id"] for r in got["results"]] == [r["id"] for r in one["results"]]
        assert [r["score"] for r in got["results"]] == pytest.approx([r["score"] for r in one["results"]], abs=1e-6)
        assert got["pagination"] == one["pagination"] and got["filters"] == one["filters"]


def test_results_are_fresh_objects(pipe):
    first = pipe.search("space robots", k=3)["results"][0]
    first["metadata"]["genres"].append("mutated")
    first["availability"].clear()
    again = pipe.search("space robots", k=3)["results"][0]
    assert "mutated" not in again["metadata"]["genres"] and again["availability"]


def test_query_vector_is_passed_per_call_under_threads(pipe):
    """Concurrent searches each hand the reranker their own query vector (nothing is stashed on shared state)."""
    from concurrent.futures import ThreadPoolExecutor

    seen = []

    class Check:
        version = "check"

        def rerank(self, user, ids, scores, k=None, query_vector=None):
            seen.append(np.allclose(query_vector, embed([user])[0], atol=1e-6))
            return list(ids), np.asarray(scores, float)

    p2 = pipe.replace(reranker=Check())
    words = ["space robots", "village baking", "robots baking", "space village"] * 5
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda w: p2.search(w, user=w), words))
    assert len(seen) == len(words) and all(seen)


def test_gat_adapter_uses_the_query_vector_for_unknown_users():
    from mgw.search import GatAdapter

    class FakeGat:
        version = "9.9.9"
        item_row = {"a": 0, "b": 1, "c": 2}
        user_row = {"known": 0}

        def rerank(self, who, ids, scores, k=None):
            self.who = who
            order = list(range(len(ids)))[::-1]
            return [ids[i] for i in order], np.arange(len(ids), 0, -1, dtype=float)

    gat = FakeGat()
    ad = GatAdapter(gat)
    q = np.ones(4, np.float32)
    ids, scores = ad.rerank("stranger", ["a", "x", "b", "c"], np.array([0.9, 0.8, 0.7, 0.6]), query_vector=q)
    assert gat.who is q and ids == ["c", "b", "a", "x"] and scores[-1] < scores[-2]
    ad.rerank("known", ["a", "b"], np.array([0.9, 0.8]), query_vector=q)
    assert gat.who == "known"
    with pytest.raises(DataError):
        ad.rerank("stranger", ["a"], np.array([0.9]))


@pytest.mark.parametrize("k", [2.5, "3", True])
def test_bad_k_types(pipe, k):
    with pytest.raises(DataError):
        pipe.search("x", k=k)


def _small_gat(n_items: int = 60, dim: int = 16):
    import torch

    from mgw.rerank.features import popularity_space
    from mgw.rerank.inference import NodeCache, Reranker
    from mgw.rerank.model import GATReranker

    torch.manual_seed(0)
    rng = np.random.default_rng(1)
    x = rng.normal(size=(n_items, dim)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    cache = NodeCache(torch.from_numpy(x), torch.randn(n_items, dim), torch.randn(n_items, dim))
    gat = Reranker(GATReranker(dim, dim, heads=8, dropout=0.1), [f"i{i}" for i in range(n_items)], cache, ["u0"],
                   torch.randn(1, dim), torch.zeros(1, dim), popularity_space(x, rng.integers(0, 9, n_items)), [])
    return gat, x


@pytest.mark.parametrize("backend", ["exact", "hnswlib"])
def test_gat_query_vector_neighbours_through_the_pipeline_index(backend):
    """The pseudo-history found through the index equals the full scan's (exact index: always; hnswlib on 60
    items: its search is exhaustive here), so the reranked order does not change."""
    from mgw.search import GatAdapter

    gat, x = _small_gat()
    rng = np.random.default_rng(2)
    queries = rng.normal(size=(10, x.shape[1])).astype(np.float32)
    cands = [[f"i{j}" for j in rng.choice(len(x), 30, replace=False)] for _ in queries]
    scores = rng.random(30).astype(np.float32)
    before = [gat.rerank(q, c, scores) for q, c in zip(queries, cands)]
    index = make_index(backend, x.shape[1], "cosine").build(x, gat.item_ids)
    calls = []
    ad = GatAdapter(gat)
    assert ad.use_index(index)
    search = index.search
    index.search = lambda *a, **kw: calls.append(1) or search(*a, **kw)
    after = [gat.rerank(q, c, scores) for q, c in zip(queries, cands)]
    assert len(calls) == len(queries)
    for (i0, s0), (i1, s1) in zip(before, after):
        assert i0 == i1
        np.testing.assert_allclose(s0, s1, rtol=1e-5, atol=1e-6)
    with pytest.raises(DataError):  # a bad preference vector is still refused, before any search
        gat.rerank(np.zeros(x.shape[1], np.float32), cands[0], scores)


def test_gat_keeps_its_scan_when_the_index_holds_other_items_or_vectors():
    from mgw.search import GatAdapter

    gat, x = _small_gat()
    other_ids = make_index("exact", x.shape[1], "cosine").build(x, [f"j{i}" for i in range(len(x))])
    assert not GatAdapter(gat).use_index(other_ids)
    shuffled = make_index("exact", x.shape[1], "cosine").build(x[::-1].copy(), gat.item_ids)
    assert not GatAdapter(gat).use_index(shuffled)
    assert gat._item_search is None


def test_gat_item_search_effect_times_index_and_scan_and_restores(pipe):
    import torch

    from mgw.rerank.features import popularity_space
    from mgw.rerank.inference import NodeCache, Reranker
    from mgw.rerank.model import GATReranker
    from mgw.search import GatAdapter
    from mgw.search.bench import gat_item_search_effect

    ids = pipe.index.ids()
    torch.manual_seed(0)
    n = len(ids)
    vec = pipe.index._native_vectors(np.arange(n))  # the index's own (unit-norm) vectors, in id order
    gat = Reranker(GATReranker(DIM, 16, heads=8, dropout=0.1), ids,
                   NodeCache(torch.from_numpy(vec), torch.randn(n, 16), torch.randn(n, 16)), ["u0"],
                   torch.randn(1, 16), torch.zeros(1, 16), popularity_space(vec, np.ones(n)), [])
    ad = GatAdapter(gat)
    assert ad.use_index(pipe.index)
    nearest = gat._item_search
    r = gat_item_search_effect(pipe.replace(reranker=ad), ["space robots", "village baking on netflix"], rounds=2)
    assert r["queries"] == 2 and r["rerank_p50_ms_index"] > 0 and r["rerank_p50_ms_scan"] > 0
    assert 0 <= r["identical_top10_pages"] <= 1  # this catalog's many equal vectors make the top 20 a tie
    assert gat._item_search is nearest
    assert gat_item_search_effect(pipe, ["space robots"]) is None  # utility reranker: nothing to compare


def test_gat_scale_compares_before_scan_and_index(tmp_path):
    from mgw.search.gat_scale import main

    r = main(["--items", "300", "--queries", "6", "--rounds", "2", "--out", str(tmp_path / "g.json")])
    assert r["rerank_p50_ms_before"] > 0 and r["rerank_p50_ms_index"] > 0 and r["rerank_p50_ms_scan"] > 0
    assert 0 <= r["identical_top10_pages"] <= 1 and r["pseudo_history_recall"] > 0.9
    assert (tmp_path / "g.json").exists()


def test_utility_reranker_by_name_even_with_a_registered_gat(tmp_path):
    """`search.reranker: utility` names the utility score; the reranker study's search task uses it (a made-up
    registry name there once made `mgw train` skip the search task in the main job)."""
    from mgw.config import load_params
    from mgw.search.rerankers import UTILITY, production_reranker

    params = load_params()
    params = params.model_copy(update={"search": params.search.model_copy(update={"reranker": UTILITY})})
    cat = small_catalog(50, seed=4)
    store = HypergraphStore.from_catalog(cat, ModelledAvailability(REGIONS, 0.3, 1).rows(cat), REGIONS)
    assert isinstance(production_reranker(params, store), UtilityReranker)
