"""Position-based click model (PBM) and ranking metrics from shown lists, for simulated online experiments.

PBM: P(click at rank r) = P(examine r) * P(attracted | item). Examination decays as 1 / r^eta; attraction
is high for items the user actually interacted with in held-out data and low otherwise. So a ranker that
puts held-out items higher earns more clicks — the online signal follows the offline ground truth, with
realistic position bias and noise.
"""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from mgw.errors import DataError


def relevance_matrix(lists: np.ndarray, user_ids: Sequence[object], relevant: Mapping[object, set]) -> np.ndarray:
    """Boolean [n_users, K]: is the item shown at rank r one of the user's held-out items? (-1 = empty slot)."""
    lists = np.asarray(lists)
    if lists.ndim != 2 or lists.shape[0] != len(user_ids):
        raise DataError(f"lists must be [n_users={len(user_ids)}, K] (got {lists.shape})")
    rel = np.zeros(lists.shape, dtype=bool)
    for i, u in enumerate(user_ids):
        items = relevant.get(u)
        if items:
            rel[i] = np.isin(lists[i], np.fromiter(items, dtype=lists.dtype, count=len(items)))
    rel &= lists >= 0
    return rel


def list_metrics(rel: np.ndarray, n_relevant: np.ndarray, k: int = 10) -> pd.DataFrame:
    """ndcg@k, recall@k, mrr@k, hitrate@k per user from a relevance matrix and each user's held-out count."""
    rel = np.asarray(rel, dtype=bool)[:, :k]
    n_relevant = np.asarray(n_relevant, dtype=np.float64)
    disc = 1.0 / np.log2(np.arange(2, rel.shape[1] + 2))
    dcg = (rel * disc).sum(axis=1)
    ideal_n = np.minimum(n_relevant, rel.shape[1]).astype(int)
    idcg = np.concatenate([[0.0], np.cumsum(disc)])[ideal_n]
    hits = rel.sum(axis=1)
    first = np.where(rel.any(axis=1), rel.argmax(axis=1) + 1, 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        return pd.DataFrame({
            f"ndcg@{k}": np.where(idcg > 0, dcg / idcg, 0.0),
            f"recall@{k}": np.where(n_relevant > 0, hits / n_relevant, 0.0),
            f"mrr@{k}": np.where(first > 0, 1.0 / np.maximum(first, 1), 0.0),
            f"hitrate@{k}": (hits > 0).astype(float),
        })


class PositionBasedModel:
    """PBM click simulator. Constructor stores parameters; `simulate` draws clicks for many sessions at once."""

    def __init__(self, eta: float = 1.0, attract_relevant: float = 0.9, attract_irrelevant: float = 0.05):
        self.eta = eta
        self.attract_relevant = attract_relevant
        self.attract_irrelevant = attract_irrelevant

    def _validate(self) -> None:
        if self.eta < 0:
            raise DataError(f"eta must be >= 0 (got {self.eta})")
        for name in ("attract_relevant", "attract_irrelevant"):
            v = getattr(self, name)
            if not (0 <= v <= 1):
                raise DataError(f"{name} must be in [0, 1] (got {v})")

    def examination(self, k: int) -> np.ndarray:
        return 1.0 / np.arange(1, k + 1, dtype=np.float64) ** self.eta

    def click_probs(self, rel: np.ndarray) -> np.ndarray:
        """P(click) per shown slot, same shape as rel ([..., K])."""
        self._validate()
        rel = np.asarray(rel, dtype=bool)
        attract = np.where(rel, self.attract_relevant, self.attract_irrelevant)
        return attract * self.examination(rel.shape[-1])

    def simulate(self, rel: np.ndarray, sessions: int, rng: np.random.Generator) -> np.ndarray:
        """Clicks [n_users, sessions, K] (bool) for users shown the same list in every session."""
        probs = self.click_probs(rel)[:, None, :]
        return rng.random((probs.shape[0], sessions, probs.shape[2])) < probs

    def expected_ctr(self, rel: np.ndarray) -> np.ndarray:
        """P(at least one click in a session) per user — the truth the simulated CTR estimates."""
        return 1.0 - np.prod(1.0 - self.click_probs(rel), axis=-1)
