"""End-to-end search (seed §3.1.2): parse → embed the text → filtered ANN top-N → rerank → top-k response.

`SearchPipeline` takes its components as arguments (ann-benchmarks style: the pipeline owns timing, the parts
stay swappable and testable with small fakes):
- `store`: HypergraphStore (filters are evaluated there, then applied *inside* the ANN search),
- `index`: an mgw.index BaseIndex built over the catalog embeddings (ids = entity_id),
- `embed`: callable list[str] → unit-norm float32 [n, dim] (an Embedder's query encoder),
- `reranker`: see `mgw.search.rerankers` (the registry's production GAT, or the seed's utility score).

Cache hook: `cache_key(parsed, user, k, offset)` is the key a cache wrapper should use and `search(...,
parsed=...)` accepts an already-parsed query; the response carries `metadata.from_cache = False`, which a
wrapper flips on a hit. Nothing is stored on the pipeline per call, so threads may share one pipeline.
"""
from __future__ import annotations

import copy
import json
import time
from typing import Any, Callable

import numpy as np
import pandas as pd

from mgw.errors import DataError
from mgw.hypergraph.expr import compile_query
from mgw.hypergraph.store import HypergraphStore
from mgw.query import parse as parse_query
from mgw.search.fragments import ResponseFragments
from mgw.search.rerankers import Reranker, UtilityReranker

STAGES = ("parse_ms", "embed_ms", "filter_ms", "ann_ms", "rerank_ms", "format_ms", "total_ms")


def cache_key(parsed: dict[str, Any], user: str | None, k: int, offset: int) -> str:
    """Canonical JSON of what determines a response (parsed query is already canonical)."""
    return json.dumps({"q": parsed, "user": user, "k": k, "offset": offset}, sort_keys=True, separators=(",", ":"))


def embed_text(parsed: dict[str, Any], raw: str) -> str:
    """Text to embed: what the parser left, else the genres and type it found, else the raw query."""
    if parsed["text"]:
        return parsed["text"]
    words = [*parsed["genres"]["all"], *([parsed["type"]] if parsed["type"] else [])]
    return " ".join(words) if words else raw


def public_response(resp: dict[str, Any]) -> dict[str, Any]:
    """The response without the internal timing dicts (what `mgw search` prints)."""
    return {k: v for k, v in resp.items() if not k.startswith("_")}


def check_page(k: int, offset: int) -> None:
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k <= 0 \
            or isinstance(offset, bool) or not isinstance(offset, (int, np.integer)) or offset < 0:
        raise DataError(f"k must be an int ≥ 1 and offset an int ≥ 0 (got k={k!r}, offset={offset!r})")


class SearchPipeline:
    def __init__(self, catalog: pd.DataFrame, store: HypergraphStore, index: Any,
                 embed: Callable[[list[str]], np.ndarray], reranker: Reranker | None = None,
                 candidates: int = 100, k: int = 10):
        self.store = store
        self.index = index
        self.embed = embed
        self.reranker = reranker if reranker is not None else UtilityReranker(store)
        self.candidates = candidates
        self.k = k
        self.fragments = ResponseFragments(catalog, store)
        self._labels: tuple[int, np.ndarray] | None = None  # (index generation, label of every store title)

    def replace(self, **parts: Any) -> "SearchPipeline":
        """A pipeline sharing this one's precomputed parts with some components swapped (embed, reranker, ...)."""
        other = copy.copy(self)
        for name, value in parts.items():
            if not hasattr(self, name):
                raise DataError(f"SearchPipeline has no part {name!r}")
            setattr(other, name, value)
        return other

    # ------------------------------------------------------------------ stages
    def _store_labels(self) -> np.ndarray | None:
        """Index label of every store title (−1: not in the index), recomputed when the index changes."""
        gen = getattr(self.index, "generation", None)
        if gen is None or not hasattr(self.index, "labels_for"):
            return None
        cached = self._labels
        if cached is None or cached[0] != gen:
            cached = (gen, self.index.labels_for(self.store.ids))
            self._labels = cached
        return cached[1]

    def _filter(self, idx: np.ndarray) -> Any:
        """Store rows that pass the query's filter → what index.search takes as `filter`."""
        labels = self._store_labels()
        if labels is None:
            return set(self.store.ids[idx])
        lab = labels[idx]
        return self.index.label_filter(lab[lab >= 0], unique=True)

    def _allowed(self, parsed: dict[str, Any]) -> tuple[list, np.ndarray | None]:
        """(compiled expression, store rows that pass it or None for no filter)."""
        expr = compile_query(parsed)
        return expr, (self.store.indices(expr) if expr != ["all"] else None)

    def _ann(self, vec: np.ndarray, idx: np.ndarray | None) -> tuple[list[str], np.ndarray]:
        want = min(self.candidates, len(self.index))
        if idx is None:
            ids, sims = self.index.search(vec, want)
            return ids.tolist(), sims
        if len(idx) == 0:
            return [], np.zeros(0, np.float32)
        ids, sims = self.index.search(vec, min(want, len(idx)), filter=self._filter(idx))
        return ids.tolist(), sims

    def _rerank(self, user: str | None, ids: list[str], sims: np.ndarray, vec: np.ndarray):
        if not ids:
            return [], np.zeros(0)
        return self.reranker.rerank(user, ids, sims, None, query_vector=vec)

    def _page(self, ids: list[str], sims: np.ndarray, ranked: list[str], scores: np.ndarray, k: int,
              offset: int) -> list[dict[str, Any]]:
        sim_of = dict(zip(ids, sims.tolist()))
        result = self.fragments.result
        return [result(i, float(s), sim_of[i]) for i, s in zip(ranked[offset:offset + k], scores[offset:offset + k])]

    def _response(self, query: str, parsed: dict[str, Any], page: list[dict[str, Any]], total: int, k: int,
                  offset: int, matches: int, latency_ms: float) -> dict[str, Any]:
        return {"query": query, "filters": parsed, "results": page,
                "pagination": {"offset": offset, "limit": k, "total": total},
                "metadata": {"latency_ms": round(latency_ms, 3), "from_cache": False,
                             "model": getattr(self.reranker, "version", type(self.reranker).__name__),
                             "filter_matches": matches}}

    # ------------------------------------------------------------------ one query
    def search(self, query: str, user: str | None = None, k: int | None = None, offset: int = 0,
               explain: bool = False, parsed: dict[str, Any] | None = None) -> dict[str, Any]:
        k = self.k if k is None else k
        check_page(k, offset)
        k, offset = int(k), int(offset)
        wall, cpu = time.perf_counter, time.thread_time
        t0, c0 = wall(), cpu()
        parsed = parse_query(query) if parsed is None else parsed
        t1, c1 = wall(), cpu()
        vec = np.asarray(self.embed([embed_text(parsed, query)]), dtype=np.float32)[0]
        t2, c2 = wall(), cpu()
        expr, idx = self._allowed(parsed)
        t3, c3 = wall(), cpu()
        ids, sims = self._ann(vec, idx)
        t4, c4 = wall(), cpu()
        ranked, scores = self._rerank(user, ids, sims, vec)
        t5, c5 = wall(), cpu()
        page = self._page(ids, sims, ranked, scores, k, offset)
        t6, c6 = wall(), cpu()
        walls, cpus = (t0, t1, t2, t3, t4, t5, t6), (c0, c1, c2, c3, c4, c5, c6)
        t = {s: (walls[i + 1] - walls[i]) * 1e3 for i, s in enumerate(STAGES[:-1])}
        t["total_ms"] = (t6 - t0) * 1e3
        c = {s: (cpus[i + 1] - cpus[i]) * 1e3 for i, s in enumerate(STAGES[:-1])}
        c["total_ms"] = (c6 - c0) * 1e3
        matches = self.store.n if idx is None else len(idx)
        out = self._response(query, parsed, page, len(ranked), k, offset, matches, t["total_ms"])
        if explain:
            out["debug"] = {"stages_ms": {s: round(v, 4) for s, v in t.items()}, "expression": expr,
                            "embedded_text": embed_text(parsed, query), "candidates": len(ids),
                            "searchLatency": round(t["ann_ms"], 4), "rerankLatency": round(t["rerank_ms"], 4),
                            "cacheHit": False}
        out["_timings"] = t
        out["_cpu_timings"] = c  # this thread's CPU time: the intrinsic cost when the machine is contended
        return out

    # ------------------------------------------------------------------ many queries at once
    def search_many(self, queries: list[str], users: list[str | None] | None = None, k: int | None = None,
                    offset: int = 0) -> list[dict[str, Any]]:
        """The batch path: one embedding call for every query and one ANN call for every unfiltered query;
        filtering, reranking and formatting per query. Responses equal `search`'s, without per-stage timings
        (metadata.latency_ms is the batch's wall time divided by its size)."""
        k = self.k if k is None else k
        check_page(k, offset)
        k, offset = int(k), int(offset)
        users = list(users) if users is not None else [None] * len(queries)
        if len(users) != len(queries):
            raise DataError(f"{len(queries)} queries but {len(users)} users")
        t0 = time.perf_counter()
        parsed = [parse_query(q) for q in queries]
        vecs = np.asarray(self.embed([embed_text(p, q) for p, q in zip(parsed, queries)]), dtype=np.float32)
        allowed = [self._allowed(p)[1] for p in parsed]
        hits: list[tuple[list[str], np.ndarray]] = [([], np.zeros(0, np.float32))] * len(queries)
        plain = [i for i, idx in enumerate(allowed) if idx is None]
        if plain:
            ids, sims = self.index.search(vecs[plain], min(self.candidates, len(self.index)))
            for row, i in enumerate(plain):
                hits[i] = (ids[row].tolist(), sims[row])
        for i, idx in enumerate(allowed):
            if idx is not None:
                hits[i] = self._ann(vecs[i], idx)
        out = []
        for i, q in enumerate(queries):
            ids, sims = hits[i]
            ranked, scores = self._rerank(users[i], ids, sims, vecs[i])
            page = self._page(ids, sims, ranked, scores, k, offset)
            matches = self.store.n if allowed[i] is None else len(allowed[i])
            out.append(self._response(q, parsed[i], page, len(ranked), k, offset, matches, 0.0))
        per_query_ms = (time.perf_counter() - t0) * 1e3 / max(len(queries), 1)
        for r in out:
            r["metadata"]["latency_ms"] = round(per_query_ms, 3)
        return out
