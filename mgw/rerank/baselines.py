"""Baseline rankers over the same candidates: retriever order, decayed popularity at the cut, the seed's utility
score (§3.2.3), item-kNN, ALS (`implicit`), LightGCN (torch-geometric) and a LightGBM lambdarank over the
ranking features (the industry's default reranker). Each returns scores [U, C]; higher ranks first.
Trainable ones take a config from a small documented grid (`GRIDS`); `tune` picks it on held-out val-phase
users with the same budget for every ranker."""
from __future__ import annotations

import logging

import numpy as np
import torch

from mgw.data.interactions import ItemTable
from mgw.rerank.candidates import CandidateParams
from mgw.rerank.dataset import PHASE_HISTORY, Phase, RerankData
from mgw.rerank.features import FEATURES

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


def _feature(phase: Phase, name: str) -> np.ndarray:
    return phase.features[:, :, FEATURES.index(name)].astype(np.float64)


def score_retriever(phase: Phase, data: RerankData) -> np.ndarray:
    return phase.cand_sim.astype(np.float64)


def score_popularity(phase: Phase, data: RerankData) -> np.ndarray:
    """Time-decayed positive events up to the cut; ties broken by query similarity (tiny weight)."""
    return _feature(phase, "log_pop_decayed") + 1e-6 * phase.cand_sim


def score_utility(phase: Phase, data: RerankData) -> np.ndarray:
    pop, recency, cost = item_features(data.items, phase.popularity)
    return utility_scores(phase.cand_sim, pop[phase.cand], recency[phase.cand], cost[phase.cand])


def score_itemknn(phase: Phase, data: RerankData) -> np.ndarray:
    return _feature(phase, "itemknn") + 1e-6 * phase.cand_sim


def score_als(phase: Phase, data: RerankData) -> np.ndarray:
    return _feature(phase, "als") + 1e-6 * phase.cand_sim


# Each trainable ranker's grid; `tune` tries the first `gnn.tune_budget` entries (the same number for all).
GRIDS = {
    "lightgbm": [{"num_leaves": 15, "learning_rate": 0.05}, {"num_leaves": 63, "learning_rate": 0.05},
                 {"num_leaves": 15, "learning_rate": 0.1}, {"num_leaves": 31, "learning_rate": 0.02}],
    "lightgcn": [{"lr": 0.01}, {"lr": 0.003}, {"lr": 0.03}, {"lr": 0.001}],
    "als": [{"factors": 32, "regularization": 0.05}, {"factors": 64, "regularization": 0.05},
            {"factors": 16, "regularization": 0.05}, {"factors": 64, "regularization": 0.5}],
    "gat": [{"lr_scale": 1.0}, {"lr_scale": 0.3}, {"lr_scale": 3.0}, {"lr_scale": 0.1}],
}


class ALSRanker:
    """ALS scores with a tuned config (refit on the phase's history splits; the candidate source uses gnn.als_*)."""

    def __init__(self, cp: CandidateParams, factors: int, regularization: float):
        self.cp = CandidateParams(**{**cp.__dict__, "als_factors": factors, "als_regularization": regularization})

    def score(self, phase: Phase, data: RerankData) -> np.ndarray:
        from mgw.rerank.dataset import RerankData as RD

        cf = RD(data.items, data.events, self.cp).cf_models(PHASE_HISTORY[phase.name])
        rows = np.array([cf.als_user.get(u, -1) for u in phase.users])
        out = np.einsum("ucf,uf->uc", cf.als_item_f[phase.cand], cf.als_user_f[np.maximum(rows, 0)]).astype(float)
        out[rows < 0] = 0.0
        return out + 1e-6 * phase.cand_sim


class LambdaRanker:
    """LightGBM lambdarank over the ranking features, trained on val-phase lists (early stopping on the tune
    users' NDCG@10)."""

    def __init__(self, num_leaves: int = 15, learning_rate: float = 0.05, seed: int = 0, threads: int = 1,
                 rounds: int = 300):
        self.params = {"objective": "lambdarank", "metric": "ndcg", "eval_at": [10], "num_leaves": num_leaves,
                       "learning_rate": learning_rate, "min_data_in_leaf": 20, "feature_fraction": 0.9,
                       "bagging_fraction": 0.8, "bagging_freq": 1, "seed": seed, "num_threads": threads,
                       "verbose": -1, "deterministic": True, "force_col_wise": True}
        self.rounds = rounds

    @staticmethod
    def _dataset(phase: Phase):
        import lightgbm as lgb

        u, c, f = phase.features.shape
        y = np.stack([np.isin(phase.cand[k], phase.relevant[k]) for k in range(u)]).astype(int)
        return lgb.Dataset(phase.features.reshape(u * c, f), y.ravel(), group=[c] * u,
                           feature_name=list(FEATURES), free_raw_data=False)

    def fit(self, fit_phase: Phase, tune_phase: Phase) -> "LambdaRanker":
        import lightgbm as lgb

        train, valid = self._dataset(fit_phase), self._dataset(tune_phase)
        self.model_ = lgb.train(self.params, train, self.rounds, valid_sets=[valid],
                                callbacks=[lgb.early_stopping(30, verbose=False)])
        self.best_iteration_ = int(self.model_.best_iteration or self.rounds)
        return self

    def score(self, phase: Phase, data: RerankData | None = None) -> np.ndarray:
        u, c, f = phase.features.shape
        s = self.model_.predict(phase.features.reshape(u * c, f), num_iteration=self.best_iteration_)
        return s.reshape(u, c) + 1e-9 * phase.cand_sim

    def importance(self) -> dict[str, float]:
        gain = self.model_.feature_importance("gain")
        return {n: float(g) for n, g in zip(FEATURES, gain / max(gain.sum(), 1e-12))}


class LightGCNRanker:
    """LightGCN (He et al. 2020) trained with BPR on the history splits' positive user–item edges."""

    def __init__(self, dim: int = 64, layers: int = 3, epochs: int = 60, lr: float = 0.01, seed: int = 0,
                 threads: int = 2, **_: object):
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
