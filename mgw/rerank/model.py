"""The GAT reranker (seed §1.1.2: 8 heads, 384 → 256, dropout 0.1) as a plain torch module.

Two GATConv layers over the user–item + item–item graph give every node a 256-d representation; a
(user, item, query) pair scores as ⟨h_user, h_item⟩/√d + w·cos(query, item), so the retriever's similarity
stays a learned part of the score, plus a learned weight on log item popularity. `user_from_history` recomputes one user's representation from its
history with the cached item states, which is how a user updates after new interactions without retraining.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn
from torch_geometric.nn import GATConv


class GATReranker(nn.Module):
    def __init__(self, input_dim: int = 384, hidden_dim: int = 256, heads: int = 8, dropout: float = 0.1):
        super().__init__()
        if hidden_dim % heads:
            raise ValueError(f"hiddenDim {hidden_dim} must be divisible by heads {heads}")
        self.input_dim, self.hidden_dim, self.heads, self.dropout = input_dim, hidden_dim, heads, dropout
        # Self-loops are part of the edge list (Graph.edge_index), so bipartite user updates match exactly.
        self.conv1 = GATConv(input_dim, hidden_dim // heads, heads=heads, dropout=dropout, add_self_loops=False)
        self.conv2 = GATConv(hidden_dim, hidden_dim // heads, heads=heads, dropout=dropout, add_self_loops=False)
        self.skip = nn.Linear(input_dim, hidden_dim)
        self.sim_weight = nn.Parameter(torch.tensor(5.0))
        # Attention normalises over neighbours, so node states cannot carry an item's degree; popularity
        # enters the score as its own learned term.
        self.pop_weight = nn.Parameter(torch.tensor(1.0))

    def config(self) -> dict:
        return {"class": type(self).__name__, "input_dim": self.input_dim, "hidden_dim": self.hidden_dim,
                "heads": self.heads, "dropout": self.dropout, "layers": 2, "conv": "GATConv"}

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

    def score(self, h_user: torch.Tensor, h_items: torch.Tensor, sim: torch.Tensor, log_pop: torch.Tensor
              ) -> torch.Tensor:
        """h_user [B, H], h_items [B, C, H], sim and log_pop = log1p(positive events) [B, C] → scores [B, C]."""
        return (torch.einsum("bh,bch->bc", h_user, h_items) / math.sqrt(self.hidden_dim)
                + self.sim_weight * sim + self.pop_weight * log_pop)
