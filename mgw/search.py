"""End-to-end search (seed §3.1.2): parse → embed the text → filtered ANN top-N → rerank → top-k response.

`SearchPipeline` takes its components as arguments (ann-benchmarks style: the pipeline owns timing, the parts
stay swappable and testable with small fakes):
- `store`: HypergraphStore (filters are evaluated there, then applied *inside* the ANN search),
- `index`: an mgw.index BaseIndex built over the catalog embeddings (ids = entity_id),
- `embed`: callable list[str] → unit-norm float32 [n, dim] (mgw.embed.Embedder.encode),
- `reranker`: object with `rerank(user, ids, scores, k) -> (ids, scores)` and `version` — the registry's
  production GAT when one is registered, `UtilityReranker` (seed §3.2.3) otherwise.

Cache hook: `cache_key(parsed, user, k, offset)` is the key a cache wrapper should use and `search(...,
parsed=...)` accepts an already-parsed query; the response carries `metadata.from_cache = False`, which a
wrapper flips on a hit.
"""
from __future__ import annotations

import copy
import threading

import json
import time
from typing import Any, Callable, Protocol
from urllib.parse import quote_plus

import numpy as np
import pandas as pd
from tqdm import tqdm

from mgw.config import PLATFORMS
from mgw.errors import DataError
from mgw.hypergraph.expr import compile_query
from mgw.hypergraph.store import HypergraphStore
from mgw.query import parse as parse_query
from mgw.rerank.baselines import utility_scores

SEARCH_URLS = {  # the catalogs carry no platform title ids, so deep links open the platform's own search
    "netflix": "https://www.netflix.com/search?q={q}",
    "prime": "https://www.amazon.com/s?k={q}&i=instant-video",
    "disney": "https://www.disneyplus.com/search?q={q}",
    "hulu": "https://www.hulu.com/search?q={q}",
}


class Reranker(Protocol):
    version: str

    def rerank(self, user: Any, candidate_ids: list[str], candidate_scores: np.ndarray,
               k: int | None = None) -> tuple[list[str], np.ndarray]: ...


class UtilityReranker:
    """Seed §3.2.3 utility U = 0.6·similarity + 0.2·popularity + 0.1·recency − 0.1·cost; not personalised.

    popularity: per-title counts when given (e.g. interactions), else the title's reach (number of
    platform×region hyperedge memberships) as the documented proxy; recency: release year min–max; cost: 0
    (every catalog title is on a subscription service)."""

    version = "utility-v1"

    def __init__(self, store: HypergraphStore, popularity: np.ndarray | None = None):
        if popularity is None:
            popularity = np.zeros(store.n)
            np.add.at(popularity, store.edge_title, np.bitwise_count(store.edge_regions).astype(float))
        pop = np.log1p(np.asarray(popularity, float))
        self.popularity = pop / pop.max() if pop.max() > 0 else pop
        years = store.years.astype(float)
        known = years > 0
        self.recency = np.full(store.n, 0.5)
        if known.any() and years[known].max() > years[known].min():
            lo, hi = years[known].min(), years[known].max()
            self.recency[known] = (years[known] - lo) / (hi - lo)
        self.index = store.index

    def rerank(self, user: Any, candidate_ids, candidate_scores, k: int | None = None):
        rows = np.fromiter((self.index[i] for i in candidate_ids), dtype=np.int64, count=len(candidate_ids))
        sim = np.clip(np.asarray(candidate_scores, float), 0.0, 1.0)
        scores = utility_scores(sim, self.popularity[rows], self.recency[rows], np.zeros(len(rows)))
        order = np.argsort(-scores, kind="stable")[: k or len(rows)]
        ids = list(candidate_ids)
        return [ids[j] for j in order], scores[order]


def cache_key(parsed: dict[str, Any], user: str | None, k: int, offset: int) -> str:
    """Canonical JSON of what determines a response (parsed query is already canonical)."""
    return json.dumps({"q": parsed, "user": user, "k": k, "offset": offset}, sort_keys=True, separators=(",", ":"))


def embed_text(parsed: dict[str, Any], raw: str) -> str:
    """Text to embed: what the parser left, else the genres and type it found, else the raw query."""
    if parsed["text"]:
        return parsed["text"]
    words = [*parsed["genres"]["all"], *([parsed["type"]] if parsed["type"] else [])]
    return " ".join(words) if words else raw


class SearchPipeline:
    def __init__(self, catalog: pd.DataFrame, store: HypergraphStore, index: Any,
                 embed: Callable[[list[str]], np.ndarray], reranker: Reranker | None = None,
                 candidates: int = 100, k: int = 10):
        self.catalog = catalog.set_index("entity_id", drop=False)
        self.store = store
        self.index = index
        self.embed = embed
        self.reranker = reranker if reranker is not None else UtilityReranker(store)
        self.candidates = candidates
        self.k = k
        self._labels = self._title_labels()

    def _title_labels(self) -> np.ndarray | None:
        """Index label of every store title, so a filter bitmap becomes a LabelFilter without string lookups."""
        if not hasattr(self.index, "make_filter"):
            return None
        f = self.index.make_filter(list(self.store.ids))
        if len(f) != self.store.n:  # some titles missing from the index: fall back to id sets
            return None
        get = self.index._label_of.get if hasattr(self.index, "_label_of") else None
        if get is None:
            return None
        return np.fromiter((get(str(i)) for i in self.store.ids), dtype=np.int64, count=self.store.n)

    def _filter(self, idx: np.ndarray) -> Any:
        if self._labels is not None:
            from mgw.index.base import LabelFilter

            return LabelFilter(self._labels[idx], self.index._generation)
        return set(self.store.ids[idx])

    def search(self, query: str, user: str | None = None, k: int | None = None, offset: int = 0,
               explain: bool = False, parsed: dict[str, Any] | None = None) -> dict[str, Any]:
        k = self.k if k is None else int(k)
        if k <= 0 or offset < 0:
            raise DataError(f"k must be ≥ 1 and offset ≥ 0 (got k={k}, offset={offset})")
        c0 = time.thread_time()
        t0 = time.perf_counter()
        parsed = parse_query(query) if parsed is None else parsed
        t1, c1 = time.perf_counter(), time.thread_time()
        vec = np.asarray(self.embed([embed_text(parsed, query)]), dtype=np.float32)[0]
        t2, c2 = time.perf_counter(), time.thread_time()
        expr = compile_query(parsed)
        filtered = expr != ["all"]
        idx = self.store.indices(expr) if filtered else None
        matches = self.store.n if idx is None else len(idx)
        t3, c3 = time.perf_counter(), time.thread_time()
        want = min(self.candidates, len(self.index))
        if matches == 0:
            ids, sims = [], np.zeros(0, np.float32)
        else:
            ids, sims = self.index.search(vec, want if idx is None else min(want, matches),
                                          filter=None if idx is None else self._filter(idx))
            ids = list(ids)
        t4, c4 = time.perf_counter(), time.thread_time()
        ranked, scores = self.reranker.rerank(user, ids, sims, None) if ids else ([], np.zeros(0))
        t5, c5 = time.perf_counter(), time.thread_time()
        sim_of = dict(zip(ids, np.asarray(sims, float)))
        page = [self._result(i, float(s), sim_of[i]) for i, s in zip(ranked[offset:offset + k], scores[offset:offset + k])]
        t6, c6 = time.perf_counter(), time.thread_time()
        cpu = {"parse_ms": (c1 - c0) * 1e3, "embed_ms": (c2 - c1) * 1e3, "filter_ms": (c3 - c2) * 1e3,
               "ann_ms": (c4 - c3) * 1e3, "rerank_ms": (c5 - c4) * 1e3, "format_ms": (c6 - c5) * 1e3,
               "total_ms": (c6 - c0) * 1e3}
        t = {"parse_ms": (t1 - t0) * 1e3, "embed_ms": (t2 - t1) * 1e3, "filter_ms": (t3 - t2) * 1e3,
             "ann_ms": (t4 - t3) * 1e3, "rerank_ms": (t5 - t4) * 1e3, "format_ms": (t6 - t5) * 1e3,
             "total_ms": (t6 - t0) * 1e3}
        out = {
            "query": query,
            "filters": parsed,
            "results": page,
            "pagination": {"offset": offset, "limit": k, "total": len(ranked)},
            "metadata": {"latency_ms": round(t["total_ms"], 3), "from_cache": False,
                         "model": getattr(self.reranker, "version", type(self.reranker).__name__),
                         "filter_matches": matches},
        }
        if explain:
            out["debug"] = {"stages_ms": {s: round(v, 4) for s, v in t.items()}, "expression": expr,
                            "embedded_text": embed_text(parsed, query), "candidates": len(ids),
                            "searchLatency": round(t["ann_ms"], 4), "rerankLatency": round(t["rerank_ms"], 4),
                            "cacheHit": False}
        out["_timings"] = t
        out["_cpu_timings"] = cpu  # this thread's CPU time: the intrinsic cost when the machine is contended
        return out

    def _result(self, eid: str, score: float, similarity: float) -> dict[str, Any]:
        row = self.catalog.loc[eid]
        avail = self.store.availability(eid)
        year = row["release_year"]
        return {
            "id": eid, "title": row["title"], "description": row["description"], "score": round(score, 6),
            "similarity": round(similarity, 6),
            "metadata": {"type": row["type"], "release_year": None if pd.isna(year) else int(year),
                         "rating": row["rating"] if isinstance(row["rating"], str) else None,
                         "genres": list(row["genres"])},
            "availability": [{"platform": p, "availableRegions": r, "subscription": True} for p, r in avail.items()],
            "deepLinks": {p: SEARCH_URLS[p].format(q=quote_plus(str(row["title"]))) for p in avail if p in PLATFORMS},
        }


def public_response(resp: dict[str, Any]) -> dict[str, Any]:
    """The response without the internal timing dict (what `mgw search` prints)."""
    return {k: v for k, v in resp.items() if not k.startswith("_")}


def production_reranker(params: Any, store: HypergraphStore) -> Reranker:
    """The registry's GAT at `search.reranker` (alias or version, registry `gnn.registry_dir`) when one is
    registered; the seed's utility score otherwise (the response's metadata.model says which answered).
    A registered but corrupt model fails loudly rather than silently serving the fallback."""
    from mgw.errors import UnknownIdError
    from mgw.rerank import load_reranker

    try:
        gat = load_reranker(params.search.reranker, params)
    except (UnknownIdError, FileNotFoundError):
        return UtilityReranker(store)
    return _GatAdapter(gat, store)


class _GatAdapter:
    """Lets the GAT serve users it has not seen (the query vector is their preference) and titles it has no
    row for (they keep their ANN order after the known ones)."""

    def __init__(self, gat: Any, store: HypergraphStore):
        self.gat = gat
        self.version = f"gat-{getattr(gat, 'version', '?')}"
        self.query_vec: np.ndarray | None = None

    def rerank(self, user, candidate_ids, candidate_scores, k=None):
        known = [i for i, c in enumerate(candidate_ids) if c in self.gat.item_row]
        if not known:
            return list(candidate_ids), np.asarray(candidate_scores, float)
        who = user if isinstance(user, str) and user in self.gat.user_row else self.query_vec
        ids, scores = self.gat.rerank(who, [candidate_ids[i] for i in known],
                                      np.asarray(candidate_scores)[known], None)
        rest = [c for i, c in enumerate(candidate_ids) if i not in set(known)]
        floor = float(np.min(scores)) - 1.0 if len(scores) else 0.0
        return ids + rest, np.concatenate([scores, np.full(len(rest), floor)])


def build_pipeline(params: Any, processed: Any = None, embed: Callable | None = None,
                   index_backend: str | None = None) -> SearchPipeline:
    """Pipeline over the processed artifacts (catalog.parquet, embeddings.npy, embedding_ids.json)."""
    from pathlib import Path

    from mgw.config import ROOT
    from mgw.hypergraph.bench import build_store
    from mgw.index import make_index

    from mgw.data.stages import load_processed

    catalog, ids, vectors = load_processed(Path(processed) if processed else ROOT / "data" / "processed")
    hp, ip = params.hypergraph, params.index
    store = build_store(catalog, hp.regions, hp.home_bonus, params.seed, hp.availability)
    backend = index_backend or ip.backend
    if backend == "hnswlib":
        index = make_index(backend, vectors.shape[1], ip.metric, M=ip.M, efConstruction=ip.efConstruction,
                           threads=ip.threads, seed=params.seed)
    elif backend == "faiss":
        index = make_index(backend, vectors.shape[1], ip.metric, factory=ip.factory or f"HNSW{ip.M},Flat",
                           efConstruction=ip.efConstruction, threads=ip.threads)
    else:
        index = make_index(backend, vectors.shape[1], ip.metric)
    index.build(vectors, ids)
    if backend == "hnswlib" or (backend == "faiss" and (ip.factory or "HNSW").startswith("HNSW")):
        index.set_query_params(efSearch=ip.efSearch)
    if embed is None:
        from mgw.embed import Embedder

        ep = params.embed  # no on-disk cache: query texts are one-offs
        embed = Embedder(model=ep.model, batch_size=ep.batch_size, threads=ep.threads, cache_dir=None,
                         dim=ep.dim).encode
    reranker = production_reranker(params, store)
    pipe = SearchPipeline(catalog, store, index, embed, reranker, params.search.candidates, params.search.k)
    if isinstance(reranker, _GatAdapter):
        inner = pipe.embed
        def embed_and_remember(texts):  # the GAT's preference vector for unknown users is the query
            v = inner(texts)
            reranker.query_vec = np.asarray(v)[0]
            return v
        pipe.embed = embed_and_remember
    return pipe


SEARCH_BENCH_QUERIES = (
    "action movies available on Netflix AND Prime in US", "documentaries on Disney+ OR Hulu in Canada",
    "comedies NOT on Netflix in UK", "heist movies", "space documentaries", "feel-good family movies",
    "90s sci-fi shows", "british crime dramas on netflix", "romcoms after 2015", "anime on prime in Japan",
    "a detective solving murders in a small town", "true crime docuseries", "kids cartoons on Disney+",
    "horror movies not on hulu", "stand-up comedy specials",
)


def bench_search(pipe: SearchPipeline, params: Any, queries: list[str] | None = None) -> dict[str, Any]:
    """Per-stage and end-to-end latency p50/p95 over `search.bench_queries` calls (queries cycled, warm-up
    first). Embedding is reported separately: the goal is on everything else."""
    queries = list(queries or SEARCH_BENCH_QUERIES)
    for q in queries[:5]:
        pipe.search(q)
    stages: dict[str, list[float]] = {}
    cpu: dict[str, list[float]] = {}
    n = params.search.bench_queries
    for i in tqdm(range(n), desc="search bench", leave=False):
        resp = pipe.search(queries[i % len(queries)])
        for s, v in resp["_timings"].items():
            stages.setdefault(s, []).append(v)
        for s, v in resp["_cpu_timings"].items():
            cpu.setdefault(s, []).append(v)
    minus = np.asarray(stages["total_ms"]) - np.asarray(stages["embed_ms"])
    minus_cpu = np.asarray(cpu["total_ms"]) - np.asarray(cpu["embed_ms"])

    def pct(v):
        v = np.asarray(v)
        return {"p50_ms": float(np.percentile(v, 50)), "p95_ms": float(np.percentile(v, 95)),
                "mean_ms": float(v.mean())}

    examples = {q: public_response(pipe.search(q, explain=True)) for q in queries[:3]}
    utility = None
    if not isinstance(pipe.reranker, UtilityReranker):  # also the fallback, on the same queries
        memo: dict[str, np.ndarray] = {}
        embed = pipe.embed

        def memo_embed(texts):  # embedding was measured above; this pass measures everything else
            key = texts[0]
            if key not in memo:
                memo[key] = embed(texts)
            return memo[key]

        alt = SearchPipeline(pipe.catalog.reset_index(drop=True), pipe.store, pipe.index, memo_embed,
                             UtilityReranker(pipe.store), pipe.candidates, pipe.k)
        u_wall, u_cpu = [], []
        for i in range(max(len(queries), n // 2)):
            resp = alt.search(queries[i % len(queries)])
            if i >= len(queries):  # first round fills the memo
                u_wall.append(resp["_timings"]["total_ms"] - resp["_timings"]["embed_ms"])
                u_cpu.append(resp["_cpu_timings"]["total_ms"] - resp["_cpu_timings"]["embed_ms"])
        if u_wall:
            utility = {"reranker": UtilityReranker.version, "end_to_end_minus_embed": pct(u_wall),
                       "end_to_end_minus_embed_thread_cpu": pct(u_cpu)}
    import os

    return {"queries": n, "distinct_queries": len(queries), "stages": {s: pct(v) for s, v in stages.items()},
            "end_to_end_minus_embed": pct(minus), "goal_minus_embed_p50_ms": 3.0,
            "stages_thread_cpu": {s: pct(v) for s, v in cpu.items()},
            "end_to_end_minus_embed_thread_cpu": pct(minus_cpu),
            "load_average_1m": os.getloadavg()[0],
            "reranker": getattr(pipe.reranker, "version", None), "index": getattr(pipe.index, "backend", None),
            "catalog_titles": pipe.store.n, "with_utility_reranker": utility, "examples": examples}


class CachedSearch:
    """The search pipeline behind the multi-level cache (seed §2.4.1): the parsed facets and the user are the
    key (never the raw string, so "on Netflix" and "not on Netflix" cannot share an entry), the pipeline is
    L3, and the whole reranked candidate list is cached, so every page of one query is served from one entry.
    """

    def __init__(self, pipe: SearchPipeline, cache_params: Any, **cache_kw: Any):
        from mgw.cache.tiered import build_cache

        self.pipe = pipe
        self.cache = build_cache(cache_params, self._compute, **cache_kw)
        self._local = threading.local()  # the raw query string of the call in progress, per thread

    def _compute(self, request: Any) -> dict[str, Any]:
        full = self.pipe.search(self._local.query, user=request.user, k=self.pipe.candidates,
                                parsed=request.parsed, explain=True)
        return json.loads(json.dumps(public_response(full), default=float))

    def search(self, query: str, user: str | None = None, k: int | None = None, offset: int = 0,
               explain: bool = False) -> dict[str, Any]:
        k = self.pipe.k if k is None else int(k)
        if k <= 0 or offset < 0:
            raise DataError(f"k must be ≥ 1 and offset ≥ 0 (got k={k}, offset={offset})")
        t0 = time.perf_counter()
        parsed = parse_query(query)
        self._local.query = query
        hit = self.cache.get(parsed, user)
        resp = copy.deepcopy(hit.value)
        resp["query"] = query
        resp["results"] = resp["results"][offset:offset + k]
        resp["pagination"] = {"offset": offset, "limit": k, "total": resp["pagination"]["total"]}
        from_cache = hit.level != "L3"
        resp["metadata"].update(from_cache=from_cache, cache_level=hit.level,
                                latency_ms=round((time.perf_counter() - t0) * 1e3, 3))
        debug = resp.pop("debug", {})
        if explain:
            resp["debug"] = {**debug, "cacheHit": from_cache,
                             "cache_ms": {s: round(v * 1e3, 4) for s, v in hit.timings_s.items()}}
        return resp
