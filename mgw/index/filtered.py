"""Filtered search (seed §3.1.2 step 3): pick a strategy from the filter's selectivity.

- brute force over the allowed subset when it is small (exact, and cheaper than walking a graph that
  mostly holds excluded items);
- in-graph filtering (hnswlib filter callback, faiss IDSelector, exact subset) for mid selectivity
  when the backend supports it;
- over-fetch then post-filter when most items pass (k / selectivity × factor candidates, doubled until
  k allowed results are found).
Whatever the strategy, a row that ends with fewer than min(k, allowed) results is completed by brute
force over the allowed subset, so fewer than k results come back only when fewer than k ids match.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from mgw.index.base import BaseIndex, LabelFilter


@dataclass
class FilterPolicy:
    """Thresholds of the strategy choice; change per index via `index.filter_policy = FilterPolicy(...)`."""

    brute_force_max: int = 2048  # allowed ids ≤ this → exact search over the subset
    overfetch_min_selectivity: float = 0.3  # selectivity ≥ this → over-fetch + post-filter
    overfetch_factor: float = 1.5


DEFAULT_POLICY = FilterPolicy()


def choose_strategy(n_allowed: int, n_live: int, in_graph: bool, policy: FilterPolicy = DEFAULT_POLICY) -> str:
    """'brute_force' | 'in_graph' | 'overfetch' from the allowed count and live index size."""
    selectivity = n_allowed / max(n_live, 1)
    if n_allowed <= policy.brute_force_max:
        return "brute_force"
    if selectivity >= policy.overfetch_min_selectivity or not in_graph:
        return "overfetch"
    return "in_graph"


def _topk(scores: np.ndarray, k: int, higher: bool) -> np.ndarray:
    """Column indices of the best k per row, best first."""
    k = min(k, scores.shape[1])
    s = -scores if higher else scores
    part = np.argpartition(s, k - 1, axis=1)[:, :k] if k < scores.shape[1] else np.tile(np.arange(k), (len(s), 1))
    order = np.take_along_axis(s, part, 1).argsort(axis=1, kind="stable")
    return np.take_along_axis(part, order, 1)


def brute_force(index: "BaseIndex", q: np.ndarray, k: int, labels: np.ndarray,
                vectors: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Exact top-k over `labels` (stored vectors fetched once per call unless given, shared by all queries)."""
    out_l = np.full((len(q), k), -1, dtype=np.int64)
    out_s = np.full((len(q), k), np.nan, dtype=np.float32)
    if labels.size == 0:
        return out_l, out_s
    x = index._native_vectors(labels) if vectors is None else vectors
    scores = index._exact_scores(q, x)
    cols = _topk(scores, k, index.higher_is_better)
    m = cols.shape[1]
    out_l[:, :m] = labels[cols]
    out_s[:, :m] = np.take_along_axis(scores, cols, 1)
    return out_l, out_s


def _live_labels(index: "BaseIndex") -> np.ndarray:
    return np.flatnonzero(index._ids != None).astype(np.int64)  # noqa: E711


def fill_missing(index: "BaseIndex", q: np.ndarray, k: int, labels: np.ndarray, scores: np.ndarray,
                 allowed: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """Redo by brute force the rows that hold fewer than min(k, |allowed|) results."""
    labels = labels.astype(np.int64, copy=False)  # hnswlib gives uint64
    pool = _live_labels(index) if allowed is None else allowed
    want = min(k, pool.size)
    short = np.flatnonzero((labels >= 0).sum(1) < want)
    if short.size:
        bl, bs = brute_force(index, q[short], k, pool)
        labels, scores = labels.copy(), np.array(scores, dtype=np.float32)
        labels[short], scores[short] = bl, bs
    return labels, scores


def filtered_search(index: "BaseIndex", q: np.ndarray, k: int, flt: "LabelFilter",
                    policy: FilterPolicy | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Top-k among the filter's labels; returns (labels [nq,k] with -1 padding, mgw scores)."""
    policy = policy or getattr(index, "filter_policy", DEFAULT_POLICY)
    allowed = flt.labels
    fresh = flt.generation == index._generation
    if not fresh:  # index changed since the filter was compiled
        allowed = allowed[index._ids[allowed] != None]  # noqa: E711
    n_live = len(index)
    strategy = choose_strategy(allowed.size, n_live, index.supports["in_graph_filter"], policy)
    index.last_filter_strategy = strategy
    if strategy == "brute_force":
        if not fresh:
            return brute_force(index, q, k, allowed)
        if flt.vectors is None:  # a compiled filter reused for many searches fetches its vectors once
            flt.vectors = index._native_vectors(allowed)
        return brute_force(index, q, k, allowed, flt.vectors)
    if strategy == "in_graph":
        labels, raw = index._native_search(q, k, labels=allowed)
        return fill_missing(index, q, k, labels, index._to_score(raw), allowed)
    # over-fetch + post-filter
    mask = np.zeros(index._ids.size, dtype=bool)
    mask[allowed] = True
    selectivity = allowed.size / max(n_live, 1)
    fetch = min(n_live, max(k, math.ceil(k / max(selectivity, 1e-9) * policy.overfetch_factor)))
    out_l = np.full((len(q), k), -1, dtype=np.int64)
    out_s = np.full((len(q), k), np.nan, dtype=np.float32)
    todo = np.arange(len(q))
    while todo.size:
        labels, raw = index._native_search(q[todo], fetch)
        scores = index._to_score(raw)
        ok = (labels >= 0) & mask[np.maximum(labels, 0)]
        done = []
        for row, (lab, sc, keep) in enumerate(zip(labels, scores, ok)):
            lab, sc = lab[keep][:k], sc[keep][:k]
            if lab.size >= min(k, allowed.size) or fetch >= n_live:
                out_l[todo[row], :lab.size], out_s[todo[row], :lab.size] = lab, sc
                done.append(row)
        todo = np.delete(todo, done)
        fetch = min(n_live, fetch * 2)
    return fill_missing(index, q, k, out_l, out_s, allowed)
