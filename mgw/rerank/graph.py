"""The training graph: users and items as one node set, user↔item edges for positive history events and
item↔item edges from content kNN (so items nobody has watched yet still receive messages)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from mgw.rerank.dataset import History


@dataclass
class Graph:
    """Node rows: users 0..U-1, then items U..U+I-1."""

    users: list[str]
    item_emb: torch.Tensor  # float32 [I, d]
    ui_user: torch.Tensor  # int64 [E] user row of each positive user–item edge
    ui_item: torch.Tensor  # int64 [E] item row (0-based among items)
    ev_user: torch.Tensor  # int64 [N] every history event (for user features, incl. skips)
    ev_item: torch.Tensor
    ev_weight: torch.Tensor  # float32 [N]
    ii_edges: torch.Tensor  # int64 [2, K] item rows

    @property
    def n_users(self) -> int:
        return len(self.users)

    @property
    def n_items(self) -> int:
        return self.item_emb.shape[0]

    def to(self, device) -> "Graph":
        return Graph(self.users, *(t.to(device) for t in (self.item_emb, self.ui_user, self.ui_item, self.ev_user,
                                                           self.ev_item, self.ev_weight, self.ii_edges)))

    def edge_index(self, keep: torch.Tensor | None = None) -> torch.Tensor:
        """Message-passing edges (both directions, self-loops included), user–item edges filtered by `keep`."""
        u, i = (self.ui_user, self.ui_item) if keep is None else (self.ui_user[keep], self.ui_item[keep])
        U = self.n_users
        nodes = torch.arange(U + self.n_items, device=u.device)
        src = torch.cat([u, i + U, self.ii_edges[0] + U, nodes])
        dst = torch.cat([i + U, u, self.ii_edges[1] + U, nodes])
        return torch.stack([src, dst])

    def user_features(self, drop_user: torch.Tensor | None = None, drop_item: torch.Tensor | None = None
                      ) -> torch.Tensor:
        """Unit preference vectors from history events; events matching (drop_user, drop_item) are left out."""
        w = self.ev_weight
        if drop_user is not None and len(drop_user):
            key = self.ev_user * self.n_items + self.ev_item
            w = torch.where(torch.isin(key, drop_user * self.n_items + drop_item), torch.zeros_like(w), w)
        x = torch.zeros(self.n_users, self.item_emb.shape[1], device=w.device)
        x.index_add_(0, self.ev_user, w[:, None] * self.item_emb[self.ev_item])
        return torch.nn.functional.normalize(x, dim=1)


def item_knn(emb: np.ndarray, k: int, chunk: int = 2048) -> np.ndarray:
    """Each item's k most similar other items by cosine, as directed edges neighbour → item."""
    n = emb.shape[0]
    k = min(k, n - 1)
    if k <= 0:
        return np.zeros((2, 0), dtype=np.int64)
    src = np.empty((n, k), dtype=np.int64)
    for s in range(0, n, chunk):
        sims = emb[s:s + chunk] @ emb.T
        sims[np.arange(len(sims)), np.arange(s, s + len(sims))] = -np.inf
        src[s:s + chunk] = np.argpartition(-sims, k - 1, axis=1)[:, :k]
    dst = np.repeat(np.arange(n), k)
    return np.stack([src.ravel(), dst])


def build_graph(users: list[str], histories: list[History], item_emb: np.ndarray, knn: int) -> Graph:
    """Graph from the training histories only (the caller passes train-split histories)."""
    ui_u, ui_i, ev_u, ev_i, ev_w = [], [], [], [], []
    for r, h in enumerate(histories):
        pi = h.positive_items
        ui_u.append(np.full(len(pi), r))
        ui_i.append(pi)
        ev_u.append(np.full(len(h.items), r))
        ev_i.append(h.items)
        ev_w.append(h.weights)
    cat = lambda xs, dt: torch.from_numpy(np.concatenate(xs).astype(dt)) if xs else torch.zeros(0, dtype=torch.long)  # noqa: E731
    return Graph(users, torch.from_numpy(np.ascontiguousarray(item_emb, dtype=np.float32)),
                 cat(ui_u, np.int64), cat(ui_i, np.int64), cat(ev_u, np.int64), cat(ev_i, np.int64),
                 cat(ev_w, np.float32), torch.from_numpy(item_knn(item_emb, knn)))
