"""The retrieve-then-rerank protocol: histories, preference vectors, candidates, features, relevant sets.

For a phase (val or test) every ranker sees the same thing: the user's history from the earlier splits,
the union of candidate sources fitted on those splits (`mgw.rerank.candidates`, history excluded), and the
features of each candidate (`mgw.rerank.features`), all computed up to the phase's cut time. Nothing from the
phase itself leaks into these inputs.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from mgw.data.interactions import ItemTable, event_weight, is_positive
from mgw.errors import DataError
from mgw.rerank.candidates import CandidateParams, CFModels, fit_cf, generate
from mgw.rerank.features import FeatureSpace, UserContext

PHASE_HISTORY = {"val": ("train",), "test": ("train", "val")}


@dataclass
class History:
    """A user's earlier events as item rows and preference weights; `positive` marks graph edges."""

    items: np.ndarray  # int64 item rows
    weights: np.ndarray  # float32 preference weights (seed §4.3.2)
    positive: np.ndarray  # bool
    times: np.ndarray | None = None  # event timestamps

    @property
    def positive_items(self) -> np.ndarray:
        return np.unique(self.items[self.positive])

    @property
    def last_time(self) -> float:
        return float(self.times.max()) if self.times is not None and len(self.times) else float("nan")


@dataclass
class Phase:
    """Everything a ranker needs to rank one phase; rows align with `users`."""

    name: str
    users: list[str]
    histories: list[History]
    pref: np.ndarray  # float32 [U, d] unit preference vectors
    cand: np.ndarray  # int64 [U, C] candidate item rows (the union)
    cand_sim: np.ndarray  # float32 [U, C] query similarity (recommend: preference vector · item)
    relevant: list[np.ndarray]  # positive items of the phase, not in the history
    popularity: np.ndarray  # float [I] positive events per item before the cut
    features: np.ndarray | None = None  # float32 [U, C, F] (mgw.rerank.features.FEATURES)
    space: FeatureSpace | None = None
    contexts: list[UserContext] | None = None
    candidate_recall: dict | None = None  # source|union → recall@N
    task: str = "recommend"
    queries: list[str] | None = None  # search task: the query of each user

    def subset(self, rows) -> "Phase":
        """The same phase for some users (row indices): for splitting training users into fit and tune."""
        rows = np.asarray(rows, dtype=np.int64)
        pick = lambda xs: [xs[r] for r in rows] if xs is not None else None  # noqa: E731
        return Phase(self.name, pick(self.users), pick(self.histories), self.pref[rows], self.cand[rows],
                     self.cand_sim[rows], pick(self.relevant), self.popularity,
                     None if self.features is None else self.features[rows], self.space, pick(self.contexts),
                     self.candidate_recall, self.task, pick(self.queries))


@dataclass
class RerankData:
    items: ItemTable
    events: pd.DataFrame  # interactions with `split`
    cp: CandidateParams = field(default_factory=CandidateParams)
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
        t = sub["timestamp"].to_numpy(dtype=np.int64)
        out: dict[str, History] = {}
        for user, idx in sub.groupby("user_id", sort=True).indices.items():
            out[user] = History(rows[idx], w[idx], pos[idx], t[idx])
        return out

    def popularity(self, splits: tuple[str, ...]) -> np.ndarray:
        mask = self.events["split"].isin(splits).to_numpy() & is_positive(self.events)
        return np.bincount(self.item_row[mask], minlength=len(self.items.ids)).astype(np.float64)

    def cut_time(self, splits: tuple[str, ...]) -> float:
        """One past the last event of the history splits: everything the phase's inputs use lies before it."""
        t = self.events.loc[self.events["split"].isin(splits), "timestamp"]
        if t.empty:
            raise DataError(f"no events in splits {splits}")
        return float(t.max()) + 1.0

    def cf_models(self, splits: tuple[str, ...]) -> CFModels:
        ev = self.events
        mask = ev["split"].isin(splits).to_numpy() & is_positive(ev)
        rows = self.item_row[mask]
        users = ev.loc[mask, "user_id"].to_numpy()
        times = ev.loc[mask, "timestamp"].to_numpy(dtype=np.int64)
        groups = pd.Series(rows).groupby(users).agg(lambda s: np.unique(s.to_numpy()))
        return fit_cf(list(groups.index), list(groups.to_numpy()), times, rows, len(self.items.ids),
                      self.cut_time(splits), self.cp)

    def feature_space(self, cf: CFModels) -> FeatureSpace:
        return FeatureSpace(cf, self.items.embeddings, self.items.genres, self.items.release_year)

    def phase(self, name: str, candidates: int, user_filter: set[str] | None = None,
              with_recall: bool = True) -> Phase:
        """Val or test phase: users with a non-empty history and at least one new positive in the phase."""
        if name not in PHASE_HISTORY:
            raise DataError(f"unknown phase {name!r} (val|test)")
        splits = PHASE_HISTORY[name]
        hist = self.histories(splits)
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
        cf = self.cf_models(splits)
        cs = generate(cf, users, pref, self.items.embeddings, [h.items for h in hs],
                      [h.positive_items for h in hs], rel if with_recall else None, candidates, self.cp)
        space = self.feature_space(cf)
        ctxs = [UserContext(u, p, h.positive_items, h.last_time, len(h.items)) for u, p, h in zip(users, pref, hs)]
        sim = np.einsum("ucd,ud->uc", self.items.embeddings[cs.cand], pref).astype(np.float32)
        return Phase(name, users, hs, pref, cs.cand, sim, rel, cf.pop, space.batch(ctxs, cs.cand, sim), space,
                     ctxs, cs.recall)


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
