"""Inference with precomputed node states: item representations are computed once from the trained graph;
a user is (re)computed from its history in one small bipartite pass, and reranking 100 candidates is a
gather and a dot product."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch

from mgw.errors import DataError, DimensionError, UnknownIdError
from mgw.rerank.dataset import History, Phase
from mgw.rerank.features import FeatureSpace, UserContext
from mgw.rerank.graph import Graph
from mgw.rerank.model import GATReranker


@dataclass
class NodeCache:
    item_x: torch.Tensor  # [I, d] input embeddings
    item_h1: torch.Tensor  # [I, H] layer-1 states
    item_h: torch.Tensor  # [I, H] final representations


@torch.no_grad()
def node_cache(model: GATReranker, graph: Graph) -> NodeCache:
    model.eval()
    x = torch.cat([graph.user_features(), graph.item_emb])
    h1, h = model(x, graph.edge_index())
    U = graph.n_users
    return NodeCache(graph.item_emb, h1[U:].contiguous(), h[U:].contiguous())


@torch.no_grad()
def user_states(model: GATReranker, cache: NodeCache, histories: list[History], pref: np.ndarray,
                chunk: int = 1024) -> torch.Tensor:
    """Final representations [B, H] of users from their histories (positive items are their neighbours)."""
    model.eval()
    out = []
    for s in range(0, len(histories), chunk):
        hs = histories[s:s + chunk]
        items = [torch.from_numpy(h.positive_items) for h in hs]
        users = [torch.full((len(t),), k, dtype=torch.long) for k, t in enumerate(items)]
        out.append(model.user_from_history(torch.from_numpy(pref[s:s + chunk]).float(), cache.item_x,
                                           cache.item_h1, torch.cat(items).long(), torch.cat(users)))
    return torch.cat(out) if out else torch.zeros(0, model.hidden_dim)


@torch.no_grad()
def score_phase(model: GATReranker, cache: NodeCache, phase: Phase, user_rows: dict[str, int]) -> np.ndarray:
    """Scores [U, C] of a phase's candidates: users from their phase history (item states from training),
    id embeddings by graph row (users the model never trained on get none), features from the phase."""
    model.eval()
    hu = user_states(model, cache, phase.histories, phase.pref)
    cand = torch.from_numpy(phase.cand)
    rows = torch.tensor([user_rows.get(u, -1) for u in phase.users], dtype=torch.long)
    feats = torch.from_numpy(phase.features) if phase.features is not None else None
    return model.score(hu, cache.item_h[cand], feats, model.user_embedding(rows),
                       model.item_embedding(cand)).double().numpy()


def _gat_params(conv) -> dict:
    return {"W": conv.lin.weight.detach().numpy(), "att_src": conv.att_src.detach().numpy()[0],
            "att_dst": conv.att_dst.detach().numpy()[0], "bias": conv.bias.detach().numpy(),
            "heads": conv.heads, "slope": conv.negative_slope}


def _project(p: dict, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(x W [n, H, C], its source attention logits [n, H]) — what a GATConv computes per source node."""
    xs = (x @ p["W"].T).reshape(len(x), p["heads"], -1)
    return np.ascontiguousarray(xs), np.ascontiguousarray((xs * p["att_src"]).sum(-1))


def _gat_one(p: dict, src: np.ndarray, dst: np.ndarray, items: tuple[np.ndarray, np.ndarray] | None = None
             ) -> np.ndarray:
    """One GATConv (concat heads, eval mode) for a single destination node fed by every row of src; `items`
    = precomputed `_project` rows of src[1:] (then only the first source row, the node itself, is projected)."""
    H = p["heads"]
    xd = (dst @ p["W"].T).reshape(1, H, -1)
    if items is None:
        xs, a_src = _project(p, src)
    else:
        xs = np.concatenate([xd, items[0]])
        a_src = np.concatenate([(xd * p["att_src"]).sum(-1), items[1]])
    logits = a_src + (xd * p["att_dst"]).sum(-1)  # [n, H]
    logits = np.where(logits > 0, logits, p["slope"] * logits)
    a = np.exp(logits - logits.max(0))
    a /= a.sum(0)
    return (a[:, :, None] * xs).sum(0).reshape(1, -1) + p["bias"]


def _elu(x: np.ndarray) -> np.ndarray:
    return np.where(x > 0, x, np.expm1(np.minimum(x, 0)))


class Reranker:
    """A trained GAT reranker ready to serve: `rerank(user or preference vector, candidate ids, scores)`.

    Known users use their state, id embedding and history features from training time; `update_user`
    recomputes a user from new history. A raw preference vector (a query, or a user the model has never seen)
    takes its 20 nearest items as pseudo-history (by a scan of every item vector, or by an ANN search when one is
    given: `use_item_search`) and has no id embedding and no history features.
    The score is `GATReranker.numpy_scorer` over `FeatureSpace.features`: the formulas of training.
    """

    PSEUDO_HISTORY = 20

    def __init__(self, model: GATReranker, item_ids: list[str], cache: NodeCache, user_ids: list[str],
                 user_h: torch.Tensor, user_e: torch.Tensor, space: FeatureSpace, contexts: list[UserContext],
                 version: str | None = None):
        self.model, self.version = model.eval(), version
        self.lineage: dict = {}  # set by the registry loader
        self.item_ids = list(item_ids)
        self.item_row = {e: i for i, e in enumerate(self.item_ids)}
        self.cache = cache
        self._item_h = cache.item_h.numpy()
        self._item_x = cache.item_x.numpy()
        self.user_row = {u: i for i, u in enumerate(user_ids)}
        self._user_h = user_h.numpy().copy()
        with torch.no_grad():
            e_items = model.item_embedding(torch.arange(len(self.item_ids))).numpy()
        self._user_e = user_e.detach().numpy().copy()  # id embedding of each served user (zeros: none learnt)
        self._item_v = self._item_h + e_items  # state + id embedding, what the score dots with
        self._item_h1 = cache.item_h1.numpy()
        self._conv1, self._conv2 = _gat_params(model.conv1), _gat_params(model.conv2)
        # per-item projections and source attention logits of both layers, computed once: a pseudo-history of
        # 20 items then costs two gathers instead of two [21 × d] × [d × H] products per query
        self._proj1 = _project(self._conv1, self._item_x)
        self._proj2 = _project(self._conv2, self._item_h1)
        self._item_search: Callable[[np.ndarray, int], np.ndarray] | None = None
        self._skip_w = model.skip.weight.detach().numpy()
        self._skip_b = model.skip.bias.detach().numpy()
        self._score = model.numpy_scorer()
        self.space = space
        self.contexts = list(contexts)

    @property
    def popularity(self) -> np.ndarray:
        return self.space.cf.pop

    def use_item_search(self, nearest: Callable[[np.ndarray, int], np.ndarray] | None) -> None:
        """Find a preference vector's pseudo-history with `nearest(pref, n) → item rows` (an ANN index over
        the same item vectors, e.g. the search pipeline's) instead of scanning every item: the scan reads
        I × d floats per query (33 MB on the real catalogs, ~2 ms on one core), the index a few hundred
        vectors. None restores the scan."""
        self._item_search = nearest

    def nearest_items(self, pref: np.ndarray, n: int | None = None) -> np.ndarray:
        """Rows of the n items nearest to `pref` by inner product (unordered), through the item search when set."""
        n = min(n or self.PSEUDO_HISTORY, len(self._item_x))
        if self._item_search is not None:
            rows = self._item_search(pref, n)
            if rows is not None and len(rows) == n:
                return rows
        sims = self._item_x @ pref
        return np.argpartition(-sims, min(n, len(sims) - 1))[:n]

    def _rows(self, ids) -> np.ndarray:
        try:
            return np.fromiter((self.item_row[i] for i in ids), dtype=np.int64, count=len(ids))
        except KeyError as e:
            raise UnknownIdError(f"candidate {e.args[0]!r} is not an item of reranker {self.version}") from None

    def user_vector(self, user) -> np.ndarray:
        """The user side of the score: GAT state (+ id embedding for a known user)."""
        return self._user(user)[0]

    def _user(self, user) -> tuple[np.ndarray, UserContext]:
        if isinstance(user, str):
            if user not in self.user_row:
                raise UnknownIdError(f"user {user!r} unknown to reranker {self.version}; pass a preference "
                                     f"vector or call update_user first")
            r = self.user_row[user]
            return self._user_h[r] + self._user_e[r], self.contexts[r]
        pref = np.asarray(user, dtype=np.float32).ravel()
        if pref.shape[0] != self._item_x.shape[1]:
            raise DimensionError(f"preference vector has {pref.shape[0]} dims, model expects {self._item_x.shape[1]}")
        n = np.linalg.norm(pref)
        if not np.isfinite(n) or n == 0:
            raise DataError("preference vector is zero or not finite")
        pref = (pref / n).astype(np.float32)
        return self._user_from_history(pref, self.nearest_items(pref)), UserContext(None, pref, np.zeros(0, np.int64), float("nan"), 0)

    def _user_from_history(self, pref: np.ndarray, items: np.ndarray) -> np.ndarray:
        """GATReranker.user_from_history for one user, in numpy: for ~20 neighbours torch's per-op overhead
        (and thread synchronisation on a busy machine) costs far more than the arithmetic."""
        u_x = pref[None]
        items = np.asarray(items)
        u1 = _elu(_gat_one(self._conv1, None, u_x, (self._proj1[0][items], self._proj1[1][items])))
        return (_gat_one(self._conv2, None, u1, (self._proj2[0][items], self._proj2[1][items]))[0]
                + u_x[0] @ self._skip_w.T + self._skip_b)

    def update_user(self, user_id: str, item_ids: list[str], weights: list[float], last_time: float | None = None
                    ) -> None:
        """Recompute a user's state and history features from its (new) history without retraining (seed §4.3.2).
        A user new to the model has no id embedding (zeros), as at training time."""
        rows = self._rows(item_ids)
        w = np.asarray(weights, dtype=np.float32)
        if len(w) != len(rows):
            raise DataError(f"{len(rows)} items but {len(w)} weights")
        pref = w @ self._item_x[rows]
        n = np.linalg.norm(pref)
        if not np.isfinite(n) or n == 0:
            raise DataError("preference vector is zero or not finite")
        pref = (pref / n).astype(np.float32)
        pos = np.unique(rows[w > 0])
        h = self._user_from_history(pref, pos)
        ctx = UserContext(user_id, pref, pos, float("nan") if last_time is None else float(last_time), len(rows))
        if user_id in self.user_row:
            r = self.user_row[user_id]
            self._user_h[r] = h
            self.contexts[r] = ctx
        else:
            self.user_row[user_id] = len(self._user_h)
            self._user_h = np.vstack([self._user_h, h[None]])
            self._user_e = np.vstack([self._user_e, np.zeros((1, self._user_e.shape[1]), self._user_e.dtype)])
            self.contexts.append(ctx)

    def score_phase(self, phase: Phase) -> np.ndarray:
        """Scores [U, C] of a phase whose users are all known (the phase's own features)."""
        out = np.empty(phase.cand.shape)
        for k, u in enumerate(phase.users):
            r = self.user_row[u]
            out[k] = self._score(self._user_h[r] + self._user_e[r], self._item_v[phase.cand[k]], phase.features[k])
        return out

    def rerank(self, user, candidate_ids, candidate_scores, k: int | None = None) -> tuple[list[str], np.ndarray]:
        """Candidates in personalised order (best first) with their reranker scores."""
        rows = self._rows(list(candidate_ids))
        sim = np.asarray(candidate_scores, dtype=np.float32)
        if sim.shape != rows.shape:
            raise DataError(f"{len(rows)} candidate ids but {sim.shape} scores")
        hu, ctx = self._user(user)
        scores = self._score(hu, self._item_v[rows], self.space.features(ctx, rows, sim))
        order = np.argsort(-scores, kind="stable")[: k or len(rows)]
        ids = list(candidate_ids)
        return [ids[j] for j in order], scores[order]
