"""The GAT reranker (seed §1.1.2: 8 heads, 384 → 256, dropout 0.1) as a plain torch module.

Two GATConv layers over the user–item + item–item graph give every node a representation; learnable user and
item id embeddings sit beside it (content alone cannot know who watches what), and a small MLP reads the
ranking features (`mgw.rerank.features`). A (user, item) pair scores

    ⟨h_user + e_user, h_item + e_item⟩ / √H + MLP(standardised features)

`score` is that formula in torch (training, batch evaluation) and `numpy_scorer` the same formula for serving one
request without torch's per-op overhead; a test holds them equal. `user_from_history` recomputes one user's
representation from its history with the cached item states, which is how a user updates after new
interactions without retraining.
"""
from __future__ import annotations

import math
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch_geometric.nn import GATConv

FEATURE_HIDDEN = 32


class GATReranker(nn.Module):
    def __init__(self, input_dim: int = 384, hidden_dim: int = 256, heads: int = 8, dropout: float = 0.1,
                 n_users: int = 0, n_items: int = 0, n_features: int = 0):
        super().__init__()
        if hidden_dim % heads:
            raise ValueError(f"hiddenDim {hidden_dim} must be divisible by heads {heads}")
        self.input_dim, self.hidden_dim, self.heads, self.dropout = input_dim, hidden_dim, heads, dropout
        self.n_users, self.n_items, self.n_features = n_users, n_items, n_features
        # Self-loops are part of the edge list (Graph.edge_index), so bipartite user updates match exactly.
        self.conv1 = GATConv(input_dim, hidden_dim // heads, heads=heads, dropout=dropout, add_self_loops=False)
        self.conv2 = GATConv(hidden_dim, hidden_dim // heads, heads=heads, dropout=dropout, add_self_loops=False)
        self.skip = nn.Linear(input_dim, hidden_dim)
        # Row n_users / n_items is "unknown": kept at zero (padding), so a new user or item adds nothing.
        self.user_id = nn.Embedding(n_users + 1, hidden_dim, padding_idx=n_users) if n_users else None
        self.item_id = nn.Embedding(n_items + 1, hidden_dim, padding_idx=n_items) if n_items else None
        for emb in (self.user_id, self.item_id):
            if emb is not None:
                nn.init.normal_(emb.weight, std=0.01)
                with torch.no_grad():
                    emb.weight[emb.padding_idx].zero_()
        self.feat = nn.Sequential(nn.Linear(n_features, FEATURE_HIDDEN), nn.ReLU(), nn.Linear(FEATURE_HIDDEN, 1)) \
            if n_features else None
        self.register_buffer("feat_mean", torch.zeros(max(n_features, 1)))
        self.register_buffer("feat_std", torch.ones(max(n_features, 1)))

    def config(self) -> dict:
        return {"class": type(self).__name__, "input_dim": self.input_dim, "hidden_dim": self.hidden_dim,
                "heads": self.heads, "dropout": self.dropout, "layers": 2, "conv": "GATConv",
                "n_users": self.n_users, "n_items": self.n_items, "n_features": self.n_features,
                "score": "<h_u+e_u, h_i+e_i>/sqrt(H) + MLP(standardised features)"}

    def set_feature_scale(self, feats: np.ndarray) -> None:
        """Standardise features with the training lists' mean and spread (stored with the weights)."""
        f = feats.reshape(-1, feats.shape[-1])
        self.feat_mean.copy_(torch.from_numpy(f.mean(0)).float())
        self.feat_std.copy_(torch.from_numpy(np.maximum(f.std(0), 1e-6)).float())

    def forward(self, x: torch.Tensor, edge_index: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """All nodes: (layer-1 states, final representations)."""
        h1 = F.elu(self.conv1(F.dropout(x, self.dropout, self.training), edge_index))
        h2 = self.conv2(F.dropout(h1, self.dropout, self.training), edge_index)
        return h1, h2 + self.skip(x)

    def user_from_history(self, user_x: torch.Tensor, item_x: torch.Tensor, item_h1: torch.Tensor,
                          hist_item: torch.Tensor, hist_user: torch.Tensor) -> torch.Tensor:
        """Representations of B users [B, H] from their positive history items (rows of item_x/item_h1)
        given as pairs (hist_item[k] → user hist_user[k]); item states come from the trained graph."""
        B = user_x.shape[0]
        uniq, local = torch.unique(hist_item, return_inverse=True)
        users = torch.arange(B, device=user_x.device)
        edges = torch.stack([torch.cat([users, local + B]), torch.cat([users, hist_user])])
        u1 = F.elu(self.conv1((torch.cat([user_x, item_x[uniq]]), user_x), edges))
        u2 = self.conv2((torch.cat([u1, item_h1[uniq]]), u1), edges)
        return u2 + self.skip(user_x)

    def user_embedding(self, rows: torch.Tensor) -> torch.Tensor:
        """Id embeddings of user rows (−1 or out of range: unknown → zeros)."""
        if self.user_id is None:
            return torch.zeros(len(rows), self.hidden_dim, device=rows.device)
        r = torch.where((rows < 0) | (rows >= self.n_users), torch.full_like(rows, self.n_users), rows)
        return self.user_id(r)

    def item_embedding(self, rows: torch.Tensor) -> torch.Tensor:
        if self.item_id is None:
            return torch.zeros(*rows.shape, self.hidden_dim, device=rows.device)
        r = torch.where((rows < 0) | (rows >= self.n_items), torch.full_like(rows, self.n_items), rows)
        return self.item_id(r)

    def score(self, h_user: torch.Tensor, h_items: torch.Tensor, feats: torch.Tensor | None,
              e_user: torch.Tensor | None = None, e_items: torch.Tensor | None = None) -> torch.Tensor:
        """h_user [B, H], h_items [B, C, H], feats [B, C, F], id embeddings alike → scores [B, C]."""
        u = h_user if e_user is None else h_user + e_user
        i = h_items if e_items is None else h_items + e_items
        out = torch.einsum("bh,bch->bc", u, i) / math.sqrt(self.hidden_dim)
        if self.feat is not None and feats is not None:
            out = out + self.feat((feats - self.feat_mean) / self.feat_std).squeeze(-1)
        return out

    def numpy_scorer(self) -> Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]:
        """`score` for one user in numpy: f(user vector [H] incl. id embedding, item vectors [C, H] incl. id
        embeddings, features [C, F]) → [C]."""
        scale = 1.0 / math.sqrt(self.hidden_dim)
        if self.feat is None:
            return lambda u, items, feats: (items @ u) * scale
        w1, b1 = (t.detach().numpy().copy() for t in (self.feat[0].weight, self.feat[0].bias))
        w2, b2 = (t.detach().numpy().copy() for t in (self.feat[2].weight, self.feat[2].bias))
        mean, std = self.feat_mean.numpy().copy(), self.feat_std.numpy().copy()

        def score(u: np.ndarray, items: np.ndarray, feats: np.ndarray) -> np.ndarray:
            z = np.maximum(((feats - mean) / std) @ w1.T + b1, 0.0)
            return (items @ u) * scale + (z @ w2.T)[:, 0] + b2[0]
        return score
