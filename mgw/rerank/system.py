"""LightningModule for the GAT reranker and `fit_gat`, which trains it on the distribution it reranks.

Training lists come from the val phase (history = train split, labels = the val period's new positives): each
list is the user's candidate union (hard negatives) plus `random_negatives` random items, and the loss is
listwise (softmax cross-entropy spread over the list's positives). The graph holds train-split edges only.
A share of the val-phase users (`tune_frac`, seeded) is never trained on: their NDCG@10 over the union drives
checkpointing and early stopping. The test split is never looked at.
"""
from __future__ import annotations

import copy
import logging
from dataclasses import dataclass
from pathlib import Path

import lightning as L
import numpy as np
import torch
import torch.nn.functional as F

from mgw.rerank.data import RerankDataModule
from mgw.rerank.dataset import Phase, RerankData
from mgw.rerank.graph import Graph, build_graph
from mgw.rerank.inference import NodeCache, node_cache, score_phase
from mgw.rerank.metrics import rank_metrics, ranking_from_scores
from mgw.rerank.model import GATReranker

log = logging.getLogger(__name__)


@dataclass
class TrainLists:
    """Training lists of val-phase users: graph user row, items, features, labels (≥ 1 positive per list)."""

    user: torch.Tensor  # [N]
    items: torch.Tensor  # [N, L]
    feats: torch.Tensor  # [N, L, F]
    labels: torch.Tensor  # [N, L] float


def training_lists(phase: Phase, graph_users: dict[str, int], n_random: int, seed: int) -> TrainLists:
    """The union candidates plus random non-history items per user, labelled by the phase's positives."""
    rng = np.random.default_rng(seed)
    n_items = len(phase.popularity)
    users, items, feats, labels = [], [], [], []
    for k, u in enumerate(phase.users):
        if u not in graph_users:
            continue
        cand = phase.cand[k]
        f = phase.features[k]
        if n_random:
            pool = rng.integers(0, n_items, size=n_random * 2)
            pool = pool[~np.isin(pool, cand) & ~np.isin(pool, phase.histories[k].items)][:n_random]
            if len(pool) < n_random:
                pool = np.concatenate([pool, rng.integers(0, n_items, size=n_random - len(pool))])
            f = np.vstack([f, phase.space.features(phase.contexts[k], pool,
                                                   phase.space.item_emb[pool] @ phase.pref[k])])
            cand = np.concatenate([cand, pool])
        lab = np.isin(cand, phase.relevant[k]).astype(np.float32)
        if lab.sum() == 0:
            continue
        users.append(graph_users[u])
        items.append(cand)
        feats.append(f)
        labels.append(lab)
    if not users:
        raise ValueError("no training user has a positive among its candidates")
    return TrainLists(torch.tensor(users), torch.from_numpy(np.stack(items)), torch.from_numpy(np.stack(feats)),
                      torch.from_numpy(np.stack(labels)))


class RerankSystem(L.LightningModule):
    def __init__(self, model: GATReranker, graph: Graph, lists: TrainLists, tune_phase: Phase | None,
                 user_rows: dict[str, int], lr: float, k: int, sub_of: torch.Tensor, keep: torch.Tensor,
                 full_emb: torch.Tensor):
        super().__init__()
        self.model, self.graph, self.lists, self.tune_phase = model, graph, lists, tune_phase
        self.sub_of, self.keep, self.full_emb = sub_of, keep, full_emb
        self.user_rows = user_rows
        self.lr, self.k = lr, k
        self.history: list[dict] = []
        self.best_score, self.best_state, self.best_epoch = -1.0, None, -1
        self._losses: list[float] = []

    def on_fit_start(self) -> None:
        self.graph = self.graph.to(self.device)

    def training_step(self, batch, batch_idx):
        (idx,) = batch
        g = self.graph
        x = torch.cat([g.user_features(), g.item_emb])
        _, h = self.model(x, g.edge_index())
        lists = self.lists
        u, items, feats, lab = lists.user[idx], lists.items[idx], lists.feats[idx], lists.labels[idx]
        s = self.model.score(h[u], h[g.n_users + self.sub_of[items]], feats, self.model.user_embedding(u),
                             self.model.item_embedding(items))
        # Listwise: softmax cross-entropy against the list's positives, spread evenly over them.
        target = lab / lab.sum(1, keepdim=True)
        loss = -(target * F.log_softmax(s, 1)).sum(1).mean()
        self.log("train_loss", loss, prog_bar=True, on_step=False, on_epoch=True, batch_size=len(u))
        self._losses.append(float(loss.detach()))
        return loss

    def validation_step(self, batch, batch_idx):
        if self.tune_phase is None:
            return
        cache = scatter_cache(node_cache(self.model, self.graph.to("cpu")), self.keep, self.full_emb)
        scores = score_phase(self.model, cache, self.tune_phase, self.user_rows)
        ranked = ranking_from_scores(self.tune_phase.cand, scores)
        ndcg = float(rank_metrics(ranked, self.tune_phase.relevant, self.k).iloc[:, 0].mean())
        self.log("val_ndcg10", ndcg, prog_bar=True, batch_size=1)
        if not self.trainer.sanity_checking:
            loss = float(np.mean(self._losses)) if self._losses else float("nan")
            self.history.append({"epoch": int(self.current_epoch), "train_loss": loss, "val_ndcg10": ndcg})
            self._losses = []
            if ndcg > self.best_score:
                self.best_score, self.best_epoch = ndcg, int(self.current_epoch)
                self.best_state = copy.deepcopy({k: v.detach().cpu() for k, v in self.model.state_dict().items()})

    def configure_optimizers(self):
        return torch.optim.Adam(self.model.parameters(), lr=self.lr, weight_decay=1e-5)


def train_graph(data: RerankData, knn: int) -> tuple[Graph, dict]:
    """Graph over users with a train history; also returns their histories by user."""
    hist = data.histories(("train",))
    users = sorted(hist)
    return build_graph(users, [hist[u] for u in users], data.items.embeddings, knn), hist


def subgraph(full: Graph, keep: np.ndarray, knn: int) -> tuple[Graph, torch.Tensor]:
    """The training graph over the items that matter to training (history items and every listed or tuned
    candidate), with content kNN recomputed among them; and full item row → subgraph item row (−1: absent).
    A GAT is inductive, so states for the other items come from the full graph after training; training on
    this subgraph costs a fraction of the full one (on MovieLens ~25 % of the items)."""
    from mgw.rerank.graph import item_knn

    sub_of = torch.full((full.n_items,), -1, dtype=torch.long)
    sub_of[torch.from_numpy(keep)] = torch.arange(len(keep))
    emb = full.item_emb[torch.from_numpy(keep)]
    g = Graph(full.users, emb, full.ui_user, sub_of[full.ui_item], full.ev_user, sub_of[full.ev_item],
              full.ev_weight, torch.from_numpy(item_knn(emb.numpy(), knn)))
    return g, sub_of


def scatter_cache(cache: NodeCache, keep: torch.Tensor, full_emb: torch.Tensor) -> NodeCache:
    """A subgraph's node cache laid out by full item rows (rows outside the subgraph stay zero)."""
    h1 = torch.zeros(full_emb.shape[0], cache.item_h1.shape[1])
    h = torch.zeros(full_emb.shape[0], cache.item_h.shape[1])
    h1[keep], h[keep] = cache.item_h1, cache.item_h
    return NodeCache(full_emb, h1, h)


def split_users(phase: Phase, tune_frac: float, seed: int) -> tuple[Phase, Phase]:
    """(fit, tune) subsets of a phase's users, seeded; the same split for every trainable ranker."""
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(phase.users))
    n_tune = max(1, int(round(len(order) * tune_frac)))
    if len(order) - n_tune < 1:
        raise ValueError(f"only {len(order)} val-phase users: too few to hold out tuning users")
    return phase.subset(np.sort(order[n_tune:])), phase.subset(np.sort(order[:n_tune]))


def fit_gat(data: RerankData, gp, seed: int, log_dir: str | Path, fit_phase: Phase, tune_phase: Phase | None,
            progress: bool = True, lr: float | None = None, heads: int | None = None, hidden: int | None = None,
            item_knn: int | None = None, id_embeddings: bool | None = None
            ) -> tuple[GATReranker, Graph, NodeCache, dict]:
    """Train with Lightning; returns the best-tuning model, its graph, node cache and training record."""
    from lightning.pytorch.callbacks import EarlyStopping
    from lightning.pytorch.loggers import CSVLogger

    L.seed_everything(seed, workers=True, verbose=False)
    torch.set_num_threads(gp.threads)
    knn = gp.item_knn if item_knn is None else item_knn
    full, _ = train_graph(data, knn)
    if data.items.embeddings.shape[1] != gp.inputDim:
        raise ValueError(f"item embeddings have {data.items.embeddings.shape[1]} dims but gnn.inputDim is "
                         f"{gp.inputDim}")
    user_rows = {u: k for k, u in enumerate(full.users)}
    lists = training_lists(fit_phase, user_rows, gp.random_negatives, seed)
    keep = np.unique(np.concatenate([full.ev_item.numpy(), lists.items.numpy().ravel(),
                                     tune_phase.cand.ravel() if tune_phase is not None else np.zeros(0, np.int64)]))
    graph, sub_of = subgraph(full, keep, knn)
    ids = gp.id_embeddings if id_embeddings is None else id_embeddings
    model = GATReranker(gp.inputDim, hidden or gp.hiddenDim, heads or gp.heads, gp.dropout,
                        n_users=full.n_users if ids else 0, n_items=full.n_items if ids else 0,
                        n_features=lists.feats.shape[-1])
    model.set_feature_scale(lists.feats.numpy())
    system = RerankSystem(model, graph, lists, tune_phase, user_rows, lr or gp.lr, gp.k, sub_of,
                          torch.from_numpy(keep), full.item_emb)
    trainer = L.Trainer(max_epochs=gp.epochs, accelerator="cpu", devices=1,
                        logger=CSVLogger(Path(log_dir), name="gat"),
                        callbacks=[EarlyStopping(monitor="val_ndcg10", mode="max", patience=gp.patience)]
                        if tune_phase is not None else [], enable_progress_bar=progress,
                        enable_model_summary=False, deterministic=False, num_sanity_val_steps=0,
                        log_every_n_steps=1, enable_checkpointing=False)
    trainer.fit(system, datamodule=RerankDataModule(len(lists.user), gp.batch_size, seed))
    model = system.model.cpu()
    if system.best_state is not None:
        model.load_state_dict(system.best_state)
    record = {"history": system.history, "best_epoch": system.best_epoch, "best_val_ndcg10": system.best_score,
              "epochs_run": len(system.history), "training_lists": int(len(lists.user)),
              "list_length": int(lists.items.shape[1]), "graph": {
                  "users": full.n_users, "items": full.n_items, "training_subgraph_items": int(len(keep)),
                  "user_item_edges": int(len(full.ui_user)), "item_item_edges": int(full.ii_edges.shape[1])},
              "user_rows": user_rows}
    return model, full, node_cache(model, full), record
