"""Rerankers the pipeline can use, and the protocol they share.

Protocol: `version: str` and `rerank(user, candidate_ids, candidate_scores, k=None, query_vector=None) ->
(ids, scores)`, best first. The pipeline passes the query's embedding as `query_vector` on every call (a
reranker that personalises can use it for users it does not know); nothing is stored between calls, so one
reranker serves concurrent searches.
"""
from __future__ import annotations

from typing import Any, Protocol

import numpy as np

from mgw.errors import DataError
from mgw.hypergraph.store import HypergraphStore
from mgw.rerank.baselines import utility_scores


class Reranker(Protocol):
    version: str

    def rerank(self, user: Any, candidate_ids: list[str], candidate_scores: np.ndarray, k: int | None = None,
               query_vector: np.ndarray | None = None) -> tuple[list[str], np.ndarray]: ...


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

    def rerank(self, user: Any, candidate_ids, candidate_scores, k: int | None = None,
               query_vector: np.ndarray | None = None):
        get = self.index.__getitem__
        rows = np.fromiter(map(get, candidate_ids), dtype=np.int64, count=len(candidate_ids))
        sim = np.clip(np.asarray(candidate_scores, float), 0.0, 1.0)
        scores = utility_scores(sim, self.popularity[rows], self.recency[rows], 0.0)
        order = np.argsort(-scores, kind="stable")[: k or len(rows)]
        ids = list(candidate_ids)
        return [ids[j] for j in order], scores[order]


class GatAdapter:
    """The registry's GAT behind the protocol: a user it knows is reranked from its learned state, anyone else
    from the query vector (their preference is what they asked for); titles the GAT has no row for keep their
    ANN order after the ones it scored."""

    def __init__(self, gat: Any):
        self.gat = gat
        self.version = f"gat-{getattr(gat, 'version', '?')}"

    def use_index(self, index: Any, probes: int = 8) -> bool:
        """Let the GAT find a query vector's pseudo-history (its nearest items) through the pipeline's ANN
        index instead of scanning every item vector: only when the index holds exactly the GAT's items and
        returns each probed item's own vector as its nearest neighbour (same embeddings). Returns whether
        it is on. Neighbours come from the index's approximate search, so a query's pseudo-history can
        differ from the exact one where the index misses a neighbour (`mgw search bench` reports how
        often the reranked page changes)."""
        gat = self.gat
        if not hasattr(gat, "use_item_search") or getattr(index, "metric", None) != "cosine" \
                or len(index) != len(gat.item_ids) or set(index.ids()) != set(gat.item_ids):
            return False
        item_x = gat.cache.item_x.numpy()
        rows = np.random.default_rng(0).choice(len(gat.item_ids), min(probes, len(gat.item_ids)), replace=False)
        for r in rows.tolist():  # the probe's nearest is itself, or an item with the very same vector
            found, score = index.search(item_x[r], 1)
            if score[0] < 1 - 1e-4 or not np.allclose(item_x[gat.item_row[found[0]]], item_x[r], atol=1e-5):
                return False
        row_of = gat.item_row.__getitem__

        def nearest(pref: np.ndarray, n: int) -> np.ndarray:
            found, _ = index.search(np.asarray(pref, dtype=np.float32), n)
            return np.fromiter(map(row_of, found), dtype=np.int64, count=len(found))

        gat.use_item_search(nearest)
        return True

    def rerank(self, user, candidate_ids, candidate_scores, k=None, query_vector=None):
        item_row = self.gat.item_row
        known = [i for i, c in enumerate(candidate_ids) if c in item_row]
        if not known:
            return list(candidate_ids), np.asarray(candidate_scores, float)
        who = user if isinstance(user, str) and user in self.gat.user_row else query_vector
        if who is None:
            raise DataError(f"{self.version}: user {user!r} is unknown to the model and no query vector was given")
        if len(known) == len(candidate_ids):
            return self.gat.rerank(who, list(candidate_ids), np.asarray(candidate_scores), k)
        ids, scores = self.gat.rerank(who, [candidate_ids[i] for i in known], np.asarray(candidate_scores)[known], None)
        known_set = set(known)
        rest = [c for i, c in enumerate(candidate_ids) if i not in known_set]
        floor = float(np.min(scores)) - 1.0 if len(scores) else 0.0
        ids, scores = ids + rest, np.concatenate([scores, np.full(len(rest), floor)])
        return (ids[:k], scores[:k]) if k else (ids, scores)


UTILITY = "utility"  # search.reranker value that selects the seed's utility score instead of a registered GAT


def production_reranker(params: Any, store: HypergraphStore) -> Reranker:
    """The registry's GAT at `search.reranker` (alias or version, registry `gnn.registry_dir`) when one is
    registered; the seed's utility score otherwise (the response's metadata.model says which answered).
    A registered but corrupt model fails loudly rather than silently serving the fallback.
    `search.reranker: utility` asks for the utility score itself (the reranker study's search task does)."""
    from mgw.errors import UnknownIdError
    from mgw.rerank import load_reranker

    if params.search.reranker == UTILITY:
        return UtilityReranker(store)
    try:
        gat = load_reranker(params.search.reranker, params)
    except (UnknownIdError, FileNotFoundError):
        return UtilityReranker(store)
    return GatAdapter(gat)
