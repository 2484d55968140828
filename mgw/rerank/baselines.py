"""Baseline rankers over the same retrieved candidates: retriever order, popularity, the seed's utility
score (§3.2.3) and LightGCN (torch-geometric). Each returns scores [U, C]; higher ranks first."""
from __future__ import annotations

import logging

import numpy as np
import torch

from mgw.data.interactions import ItemTable
from mgw.rerank.dataset import Phase, RerankData

log = logging.getLogger(__name__)

UTILITY_WEIGHTS = (0.6, 0.2, 0.1, 0.1)  # seed §3.2.3: α·similarity + β·popularity + γ·recency − δ·cost


def utility_scores(similarity: np.ndarray, popularity: np.ndarray, recency: np.ndarray, cost: np.ndarray,
                   weights: tuple[float, float, float, float] = UTILITY_WEIGHTS) -> np.ndarray:
    """U = 0.6·cosineSimilarity + 0.2·popularityScore + 0.1·recencyScore − 0.1·costPenalty (all in [0, 1])."""
    a, b, g, d = weights
    return (a * np.asarray(similarity, float) + b * np.asarray(popularity, float)
            + g * np.asarray(recency, float) - d * np.asarray(cost, float))


def item_features(items: ItemTable, popularity: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-item popularityScore (log-scaled to [0, 1]), recencyScore (release year min-max, 0.5 if unknown)
    and costPenalty (1 when the title is on no subscription platform, i.e. rental or unavailable)."""
    pop = np.log1p(popularity)
    pop = pop / pop.max() if pop.max() > 0 else pop
    years = items.release_year
    known = np.isfinite(years)
    recency = np.full(len(years), 0.5)
    if known.any():
        lo, hi = np.nanmin(years), np.nanmax(years)
        recency[known] = (years[known] - lo) / (hi - lo) if hi > lo else 0.5
    cost = (~items.in_catalog).astype(float)
    return pop, recency, cost


def score_retriever(phase: Phase, data: RerankData) -> np.ndarray:
    return phase.cand_sim.astype(np.float64)


def score_popularity(phase: Phase, data: RerankData) -> np.ndarray:
    # Ties broken by retriever similarity (tiny weight), so the order is fully defined.
    return phase.popularity[phase.cand] + 1e-6 * phase.cand_sim


def score_utility(phase: Phase, data: RerankData) -> np.ndarray:
    pop, recency, cost = item_features(data.items, phase.popularity)
    return utility_scores(phase.cand_sim, pop[phase.cand], recency[phase.cand], cost[phase.cand])


class LightGCNRanker:
    """LightGCN (He et al. 2020) trained with BPR on the history splits' positive user–item edges."""

    def __init__(self, dim: int = 64, layers: int = 3, epochs: int = 60, lr: float = 0.01, seed: int = 0,
                 threads: int = 2):
        self.dim, self.layers, self.epochs, self.lr, self.seed, self.threads = dim, layers, epochs, lr, seed, threads

    def fit(self, data: RerankData, splits: tuple[str, ...]) -> "LightGCNRanker":
        from torch_geometric.nn import LightGCN

        torch.set_num_threads(self.threads)
        gen = torch.Generator().manual_seed(self.seed)
        torch.manual_seed(self.seed)
        hist = data.histories(splits)
        self.users_ = {u: k for k, u in enumerate(sorted(hist))}
        n_users, n_items = len(self.users_), len(data.items.ids)
        src, dst = [], []
        for u, h in hist.items():
            pi = h.positive_items
            src.append(np.full(len(pi), self.users_[u]))
            dst.append(pi + n_users)
        src_t = torch.from_numpy(np.concatenate(src)).long()
        dst_t = torch.from_numpy(np.concatenate(dst)).long()
        edge_index = torch.stack([torch.cat([src_t, dst_t]), torch.cat([dst_t, src_t])])
        self.model_ = LightGCN(n_users + n_items, self.dim, self.layers)
        opt = torch.optim.Adam(self.model_.parameters(), lr=self.lr)
        self.n_users_ = n_users
        for _ in range(self.epochs):
            opt.zero_grad()
            neg = torch.randint(n_users, n_users + n_items, (len(src_t),), generator=gen)
            label_index = torch.stack([src_t, dst_t, neg])
            pos_rank, neg_rank = self.model_(edge_index, label_index[[0, 1]]), self.model_(edge_index, label_index[[0, 2]])
            loss = self.model_.recommendation_loss(pos_rank, neg_rank, node_id=label_index.unique(), lambda_reg=1e-4)
            loss.backward()
            opt.step()
        with torch.no_grad():
            self.emb_ = self.model_.get_embedding(edge_index).numpy()
        return self

    def score(self, phase: Phase, data: RerankData) -> np.ndarray:
        out = np.full(phase.cand.shape, -np.inf)
        for r, u in enumerate(phase.users):
            if u in self.users_:
                out[r] = self.emb_[self.n_users_ + phase.cand[r]] @ self.emb_[self.users_[u]]
        # Users unknown to LightGCN (no positive history edge) keep retriever order.
        unknown = ~np.isfinite(out[:, 0])
        out[unknown] = phase.cand_sim[unknown]
        return out + 1e-9 * phase.cand_sim
