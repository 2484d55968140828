"""The retrieve-then-rerank protocol: histories, preference vectors, top-N candidates, relevant sets.

For a phase (val or test) every ranker sees the same thing: the user's history from the earlier splits,
the retriever's top-`candidates` items by cosine to the user's preference vector (history excluded), and
popularity counted on the earlier splits only. Nothing from the phase itself leaks into these inputs.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from mgw.data.interactions import ItemTable, event_weight, is_positive
from mgw.errors import DataError

PHASE_HISTORY = {"val": ("train",), "test": ("train", "val")}


@dataclass
class History:
    """A user's earlier events as item rows and preference weights; `positive` marks graph edges."""

    items: np.ndarray  # int64 item rows
    weights: np.ndarray  # float32 preference weights (seed §4.3.2)
    positive: np.ndarray  # bool

    @property
    def positive_items(self) -> np.ndarray:
        return np.unique(self.items[self.positive])


@dataclass
class Phase:
    """Everything a ranker needs to rank one phase; rows align with `users`."""

    name: str
    users: list[str]
    histories: list[History]
    pref: np.ndarray  # float32 [U, d] unit preference vectors (the retrieval query)
    cand: np.ndarray  # int64 [U, C] candidate item rows, retriever order
    cand_sim: np.ndarray  # float32 [U, C] cosine similarity of each candidate
    relevant: list[np.ndarray]  # positive items of the phase, not in the history
    popularity: np.ndarray  # float [I] positive events per item in the history splits


@dataclass
class RerankData:
    items: ItemTable
    events: pd.DataFrame  # interactions with `split`
    item_row: np.ndarray = field(init=False)  # events → item row

    def __post_init__(self) -> None:
        index = self.items.index
        rows = self.events["entity_id"].map(index)
        if rows.isna().any():
            bad = self.events.loc[rows.isna(), "entity_id"].unique()[:3]
            raise DataError(f"{rows.isna().sum()} interactions reference items without embeddings, e.g. {list(bad)}")
        self.item_row = rows.to_numpy(dtype=np.int64)

    def fingerprint(self) -> str:
        """Data hash for lineage: interactions with splits, and item ids."""
        h = hashlib.sha256()
        h.update(pd.util.hash_pandas_object(self.events[["user_id", "entity_id", "event", "timestamp", "split"]],
                                            index=False).to_numpy().tobytes())
        h.update("\n".join(self.items.ids).encode())
        return h.hexdigest()[:16]

    def histories(self, splits: tuple[str, ...]) -> dict[str, History]:
        ev = self.events
        mask = ev["split"].isin(splits).to_numpy()
        sub = ev[mask]
        rows = self.item_row[mask]
        w = event_weight(sub).astype(np.float32)
        pos = is_positive(sub)
        out: dict[str, History] = {}
        for user, idx in sub.groupby("user_id", sort=True).indices.items():
            out[user] = History(rows[idx], w[idx], pos[idx])
        return out

    def popularity(self, splits: tuple[str, ...]) -> np.ndarray:
        mask = self.events["split"].isin(splits).to_numpy() & is_positive(self.events)
        return np.bincount(self.item_row[mask], minlength=len(self.items.ids)).astype(np.float64)

    def phase(self, name: str, candidates: int, user_filter: set[str] | None = None) -> Phase:
        """Val or test phase: users with a non-empty history and at least one new positive in the phase."""
        if name not in PHASE_HISTORY:
            raise DataError(f"unknown phase {name!r} (val|test)")
        hist = self.histories(PHASE_HISTORY[name])
        ev = self.events
        mask = (ev["split"] == name).to_numpy() & is_positive(ev)
        target = pd.Series(self.item_row[mask]).groupby(ev.loc[mask, "user_id"].to_numpy()).agg(
            lambda s: np.unique(s.to_numpy()))
        users, hs, rel = [], [], []
        for user, items in target.items():
            if user not in hist or (user_filter is not None and user not in user_filter):
                continue
            h = hist[user]
            new = np.setdiff1d(items, h.items)
            if len(new) == 0 or not np.any(h.weights > 0):
                continue
            users.append(user)
            hs.append(h)
            rel.append(new)
        if not users:
            raise DataError(f"no {name} users with history and new positives")
        pref = preference_vectors(self.items.embeddings, hs)
        cand, sim = retrieve(pref, self.items.embeddings, candidates, [h.items for h in hs])
        return Phase(name, users, hs, pref, cand, sim, rel, self.popularity(PHASE_HISTORY[name]))


def preference_vectors(item_emb: np.ndarray, histories: list[History]) -> np.ndarray:
    """Seed §4.3.2 preference embedding: unit-norm weighted sum of history item embeddings."""
    out = np.zeros((len(histories), item_emb.shape[1]), dtype=np.float32)
    for k, h in enumerate(histories):
        out[k] = h.weights @ item_emb[h.items]
    n = np.linalg.norm(out, axis=1, keepdims=True)
    return out / np.where(n == 0, 1, n)


def retrieve(queries: np.ndarray, item_emb: np.ndarray, k: int, exclude: list[np.ndarray] | None = None,
             chunk: int = 512) -> tuple[np.ndarray, np.ndarray]:
    """Exact cosine top-k (the ANN ceiling; ANN backends are benchmarked by the index area)."""
    k = min(k, item_emb.shape[0])
    idx = np.empty((len(queries), k), dtype=np.int64)
    sim = np.empty((len(queries), k), dtype=np.float32)
    for s in range(0, len(queries), chunk):
        scores = queries[s:s + chunk] @ item_emb.T
        if exclude is not None:
            for j, ex in enumerate(exclude[s:s + chunk]):
                scores[j, ex] = -np.inf
        part = np.argpartition(-scores, k - 1, axis=1)[:, :k]
        ps = np.take_along_axis(scores, part, 1)
        order = np.argsort(-ps, axis=1, kind="stable")
        idx[s:s + chunk] = np.take_along_axis(part, order, 1)
        sim[s:s + chunk] = np.take_along_axis(ps, order, 1)
    return idx, sim
