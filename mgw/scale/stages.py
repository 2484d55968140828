"""One measurement per (stage, n), each run by `child.run_in_child` in a fresh process. Every function takes
plain arguments (the params as a dict, paths as strings) and returns a flat dict: `seconds`, `peak_rss_bytes`
(the stage's peak resident memory, sampled during the stage), `rss_delta_bytes` (peak minus the RSS the stage
started from, inputs already in memory) and the stage's own numbers. Timings are wall clock on pinned threads."""
from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import numpy as np

from mgw.config import Params
from mgw.scale.child import PeakRss

#: the query-time knob swept per backend to reach the recall target, smallest first
SWEEPS: dict[str, tuple[str, list[int]]] = {
    "hnswlib": ("efSearch", [10, 16, 24, 32, 48, 64, 100, 160, 256, 400, 640]),
    "faiss-hnsw-flat": ("efSearch", [10, 16, 24, 32, 48, 64, 100, 160, 256, 400, 640]),
    "faiss-hnsw-sq8": ("efSearch", [10, 16, 24, 32, 48, 64, 100, 160, 256, 400, 640]),
    "faiss-ivf-pq": ("nprobe", [1, 2, 4, 8, 16, 32, 64, 128, 256]),
    "annoy": ("search_k", [500, 1000, 2000, 5000, 10000, 20000, 50000, 100000]),
}


def _mem(p: PeakRss) -> dict[str, int]:
    return {"peak_rss_bytes": int(p.peak), "rss_delta_bytes": int(p.delta)}


# --------------------------------------------------------------------------- ingest and resolve
def ingest(params: dict[str, Any], n: int, items_path: str) -> dict[str, Any]:
    """Generate the simulated catalog of n titles, then ingest it (normalize, quarantine, buffer)."""
    from mgw.data import ingest as ing
    from mgw.data.connectors.simulated import simulated_catalog
    from mgw.scale.synth import catalog_params

    p = catalog_params(Params.model_validate(params), n)
    with PeakRss() as gen_mem:
        t0 = time.perf_counter()
        rows = sum(len(v) for v in simulated_catalog(p).values())
        gen_s = time.perf_counter() - t0
    with PeakRss() as mem:
        t0 = time.perf_counter()
        result = ing.ingest(p, show_progress=False)
        seconds = time.perf_counter() - t0
    frame = result.items_frame()
    Path(items_path).parent.mkdir(parents=True, exist_ok=True)
    frame.to_parquet(items_path, index=False)
    return {"seconds": seconds, "rows": rows, "items": len(result.items), "rejected": len(result.rejections),
            "rows_per_s": rows / seconds, "generate_s": gen_s, "generate_peak_rss_bytes": int(gen_mem.peak), **_mem(mem)}


def resolve(params: dict[str, Any], n: int, items_path: str) -> dict[str, Any]:
    """Resolve the ingested listings with the mgw engine (splink comparison off); synopsis vectors from the
    token-hash stand-in, since MiniLM's cost is the embedding stage's. Includes fitting on the simulated
    training catalog (half the size), as the resolve stage does on simulated data."""
    import pandas as pd

    from mgw.data.resolve.resolver import resolve as run_resolve
    from mgw.scale.synth import TokenHashEmbedder, catalog_params

    if not Path(items_path).exists():  # its ingest row came from an earlier run (`--resume`): ingest again
        ingest(params, n, items_path)
    p = catalog_params(Params.model_validate(params), n)
    p = p.model_copy(update={"resolve": p.resolve.model_copy(update={"compare_engines": False, "engine": "mgw"})})
    items = pd.read_parquet(items_path)
    embedder = TokenHashEmbedder(p.embed.dim, p.seed)
    with PeakRss() as mem:
        t0 = time.perf_counter()
        res = run_resolve(items, p, embedder)
        seconds = time.perf_counter() - t0
    return {"seconds": seconds, "listings": len(items), "entities": len(res.entities), "merges": len(res.merges),
            "listings_per_s": len(items) / seconds, "parts_s": res.stats.get("seconds", {}), **_mem(mem)}


# --------------------------------------------------------------------------- embedding (measured small)
def embed_rate(params: dict[str, Any], n: int) -> dict[str, Any]:
    """MiniLM on the configured runtime, n catalog texts of the simulated source, no disk cache; the model is
    loaded (and its ONNX export reused) before the timer starts."""
    from mgw.data import ingest as ing
    from mgw.embed import Embedder, entity_text
    from mgw.scale.synth import catalog_params

    p = catalog_params(Params.model_validate(params), max(n, 100))
    items = ing.ingest(p, show_progress=False).items_frame().head(n)
    texts = [entity_text(t, d or "", g) for t, d, g in zip(items["title"], items["description"], items["genres"])]
    emb = Embedder.from_params(p.embed, disk_cache=False)
    emb.encode(texts[:8])  # load + warm-up
    with PeakRss() as mem:
        t0 = time.perf_counter()
        emb.encode(texts)
        seconds = time.perf_counter() - t0
    return {"seconds": seconds, "texts": len(texts), "texts_per_s": len(texts) / seconds, "runtime": emb.label,
            **_mem(mem)}


# --------------------------------------------------------------------------- index build and search
def _make(backend: str, dim: int, n: int, index_params: dict[str, Any], threads: int, seed: int):
    from mgw.index import make_index

    M, efc = int(index_params["M"]), int(index_params["efConstruction"])
    if backend == "hnswlib":
        return make_index("hnswlib", dim, "cosine", M=M, efConstruction=efc, threads=threads, seed=seed)
    if backend in ("faiss-hnsw-flat", "faiss-hnsw-sq8"):
        return make_index(backend, dim, "cosine", M=M, efConstruction=efc, threads=threads, seed=seed)
    if backend == "faiss-ivf-pq":
        nlist = ivf_nlist(n)
        return make_index("faiss", dim, "cosine", factory=f"IVF{nlist},PQ48x4", threads=threads, seed=seed)
    if backend == "annoy":
        return make_index("annoy", dim, "cosine", n_trees=int(index_params.get("n_trees", 100)), threads=threads,
                          seed=seed)
    raise ValueError(f"unknown scaling backend {backend!r} (known: {', '.join(SWEEPS)})")


def ivf_nlist(n: int) -> int:
    """≈ 4·√n lists, a power of two, each with ≥ 39 training points (faiss's minimum), as bench.runner does."""
    return int(2 ** np.floor(np.log2(max(min(4 * np.sqrt(n), n / 39), 4))))


def _single_latencies(index, queries: np.ndarray, k: int, runs: int) -> tuple[np.ndarray, list[np.ndarray]]:
    """Per-query latency (ns, best of `runs`: a preempted call on a shared machine says nothing) and results."""
    lat = np.full((runs, len(queries)), np.iinfo(np.int64).max, dtype=np.int64)
    found: list[np.ndarray] = [None] * len(queries)  # type: ignore[list-item]
    pc = time.perf_counter_ns
    for r in range(runs):
        for i, q in enumerate(queries):
            s = pc()
            ids, _ = index.search(q, k)
            lat[r, i] = pc() - s
            found[i] = ids
    return lat.min(axis=0), found


def index_search(generator: str, n: int, backend: str, index_params: dict[str, Any], queries: int, k: int,
                 recall_target: float, threads: int, seed: int, runs: int = 3, save_path: str | None = None
                 ) -> dict[str, Any]:
    """Build one backend over n generated vectors (time, peak memory, serialized bytes/vector), then the
    smallest query knob that holds recall@k ≥ target on held-out queries, and single-thread p50/p95/p99 there.
    A backend that never reaches the target reports its best recall and latency at the largest knob.
    `save_path`: also save the built index there, after the measurement (the GAT stage serves through it)."""
    from mgw.bench.datasets import ground_truth
    from mgw.bench.metrics import recall_at_k
    from mgw.scale.synth import vectors

    x = vectors(generator, n, seed)
    q = vectors(generator, queries, seed + 1)
    truth, _ = ground_truth(x, q, k)
    ids = [str(i) for i in range(n)]
    index = _make(backend, x.shape[1], n, index_params, threads, seed)
    with PeakRss() as mem:
        t0 = time.perf_counter()
        index.build(x, ids)
        build_s = time.perf_counter() - t0
    stats = index.stats()
    del x
    knob, grid = SWEEPS[backend]
    if backend == "faiss-ivf-pq":
        grid = [p for p in grid if p <= ivf_nlist(n)]
    if backend.startswith("faiss"):
        import faiss

        faiss.omp_set_num_threads(1)
    from threadpoolctl import threadpool_limits

    single_thread = threadpool_limits(1)  # single-query latency: one thread everywhere (as bench.runner does)
    sweep, chosen = [], None
    for value in grid:
        index.set_query_params(threads=1, **{knob: value})
        lat, found = _single_latencies(index, q, k, 1)
        pos = np.array([[int(v) if v is not None else -1 for v in row[:k]] + [-1] * (k - len(row)) for row in found])
        rec = float(recall_at_k(pos, truth, k).mean())
        sweep.append({knob: value, "recall": rec, "p50_us_one_run": float(np.percentile(lat, 50)) / 1e3})
        if rec >= recall_target:
            chosen = value
            break
    value = chosen if chosen is not None else grid[-1]
    index.set_query_params(threads=1, **{knob: value})
    lat, found = _single_latencies(index, q, k, runs)
    single_thread.restore_original_limits()
    if save_path:
        index.save(save_path)
    us = lat / 1e3
    return {"backend": backend, "config": index.describe(), "seconds": build_s, "build_s": build_s,
            "build_vectors_per_s": n / build_s, **_mem(mem), "serialized_bytes": stats["serialized_bytes"],
            "bytes_per_vector": stats["bytes_per_vector"], "knob": knob, "knob_value": value,
            "meets_recall": chosen is not None, "recall": sweep[-1]["recall"] if chosen is not None else
            max(s["recall"] for s in sweep), "p50_us": float(np.percentile(us, 50)),
            "p95_us": float(np.percentile(us, 95)), "p99_us": float(np.percentile(us, 99)), "queries": len(q),
            "runs": runs, "sweep": sweep, "load_average_1m": os.getloadavg()[0]}


# --------------------------------------------------------------------------- hypergraph, GAT, cache
def hypergraph(params: dict[str, Any], n: int, queries: int, seed: int) -> dict[str, Any]:
    """Availability hypergraph of n simulated titles (vectorised generator of hypergraph/bench.py): build time
    and memory, boolean query p50/p95 over random parsed queries (no XGI reference at scale)."""
    from mgw.hypergraph.bench import random_queries, simulated_store, time_queries

    hp = Params.model_validate(params).hypergraph
    with PeakRss() as mem:
        t0 = time.perf_counter()
        store = simulated_store(n, hp.regions, hp.home_bonus, seed)
        seconds = time.perf_counter() - t0
    lat = time_queries(store, None, random_queries(queries, hp.regions, seed + 1))
    return {"seconds": seconds, "hyperedges": len(store.edge_title), **_mem(mem),
            "query_p50_ms": lat["store"]["p50_ms"], "query_p95_ms": lat["store"]["p95_ms"],
            "query_p99_ms": lat["store"]["p99_ms"], "queries": lat["store"]["queries"]}


def gat(params: dict[str, Any], generator: str, n: int, queries: int, seed: int, index_path: str | None = None,
        runs: int = 3) -> dict[str, Any]:
    """Reranking 100 candidates as search serves it: `search.rerankers.GatAdapter` over `rerank.inference.Reranker`
    (precomputed item projections), for a query vector of a user the model has never seen, whose 20-item
    pseudo-history comes through the pipeline's ANN index (`GatAdapter.use_index`: hnswlib at `index.*`, served
    at `index.efSearch`). The index is the one the index stage built over the same n vectors when it saved one
    (`index_path`), else it is built here; either way outside the timed and memory-sampled block, since the
    search stage owns its cost. The model is the configured architecture with seeded weights and item states of
    the right shapes: latency depends on shapes, not on trained values. Candidates are the query's 100 nearest
    titles (what search hands the reranker). Per-query latency is the best of `runs`, as the index stage takes it
    (a call preempted on a shared machine says nothing about the code). Also timed, interleaved, for comparison:
    the same Reranker finding the pseudo-history by scanning all n item vectors (`scan_*`, O(n) per query; no
    serving path uses it)."""
    import torch
    from threadpoolctl import threadpool_limits

    from mgw.index import from_params, load_index
    from mgw.rerank.features import FEATURES, popularity_space
    from mgw.rerank.inference import NodeCache, Reranker
    from mgw.rerank.model import GATReranker
    from mgw.scale.synth import vectors
    from mgw.search.rerankers import GatAdapter

    p = Params.model_validate(params)
    gp = p.gnn
    torch.manual_seed(seed)
    torch.set_num_threads(1)
    x = vectors(generator, n, seed)
    ids = [str(i) for i in range(n)]
    t0 = time.perf_counter()
    if index_path and Path(index_path).exists():
        index, index_source = load_index(index_path), "index stage"
    else:
        index, index_source = from_params(p, x.shape[1], backend="hnswlib").build(x, ids), "built here"
    index_s = time.perf_counter() - t0
    index.set_query_params(efSearch=p.index.efSearch, threads=1)
    model = GATReranker(gp.inputDim, gp.hiddenDim, gp.heads, gp.dropout, n_items=n, n_features=len(FEATURES)).eval()
    rng = np.random.default_rng(seed)
    with PeakRss() as mem:
        t0 = time.perf_counter()
        cache = NodeCache(torch.from_numpy(x), torch.from_numpy(rng.standard_normal((n, gp.hiddenDim), np.float32)),
                          torch.from_numpy(rng.standard_normal((n, gp.hiddenDim), np.float32)))
        # the served shape: id embeddings and the ranking features (popularity the only signal at synthetic scale)
        rr = Reranker(model, ids, cache, [], torch.zeros(0, gp.hiddenDim), torch.zeros(0, gp.hiddenDim),
                      popularity_space(x, rng.integers(0, 50, n)), [])
        seconds = time.perf_counter() - t0
    served = GatAdapter(rr)
    if not served.use_index(index):
        raise RuntimeError("the ANN index does not hold the GAT's items: the served path would scan")
    nearest = rr._item_search
    prefs = vectors(generator, queries, seed + 1)
    t = {m: np.full((runs, queries), np.iinfo(np.int64).max, dtype=np.int64) for m in ("index", "scan")}
    pc = time.perf_counter_ns
    with threadpool_limits(1):  # one request per core, as rerank/latency.py measures it (BLAS threads only spin)
        for r in range(runs):
            for i, v in enumerate(np.concatenate([prefs[:10], prefs]) if r == 0 else prefs):  # 10 warm-up first
                for mode in (("index", "scan") if i % 2 == 0 else ("scan", "index")):  # interleaved: same load
                    found, sims = index.search(v, gp.candidates)  # untimed, right before, as search serves it
                    rr.use_item_search(nearest if mode == "index" else None)
                    t0 = pc()
                    served.rerank(None, list(found), sims, None, query_vector=v)
                    q = i - 10 if r == 0 else i
                    if q >= 0:
                        t[mode][r, q] = pc() - t0
    rr.use_item_search(nearest)
    ms = {m: v.min(axis=0) / 1e6 for m, v in t.items()}
    return {"seconds": seconds, **_mem(mem), "candidates": gp.candidates, "queries": queries, "runs": runs,
            "rerank_p50_ms": float(np.percentile(ms["index"], 50)),
            "rerank_p95_ms": float(np.percentile(ms["index"], 95)),
            "rerank_p99_ms": float(np.percentile(ms["index"], 99)),
            "scan_rerank_p50_ms": float(np.percentile(ms["scan"], 50)),
            "scan_rerank_p95_ms": float(np.percentile(ms["scan"], 95)),
            "pseudo_history": "ann index", "index": index.describe(), "index_query_params": dict(index.query_params),
            "index_source": index_source,
            "index_ready_s": index_s, "load_average_1m": os.getloadavg()[0]}


def cache(params: dict[str, Any], n: int, requests: int, size: int, alpha: float, seed: int) -> dict[str, Any]:
    """LRU hit ratio of a fixed-size cache on a Zipf(alpha) request stream over n titles (semantic keys)."""
    from mgw.cache.simulator import lru_hits, zipf_workload

    cp = Params.model_validate(params).cache
    t0 = time.perf_counter()
    w = zipf_workload(alpha, n, requests, cp.sim_variants, cp.sim_qps, seed)
    hits = lru_hits(w.keys(semantic=True), size)
    return {"seconds": time.perf_counter() - t0, "hit_ratio": hits / requests, "cache_size": size,
            "requests": requests, "alpha": alpha}
