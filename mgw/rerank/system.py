"""LightningModule for the GAT reranker and `fit_gat`, which trains it on a RerankData's train split.

Each step holds out a share of the batch users' positive edges from message passing and from their
preference features, and asks the model to rank each held-out item first among the user's retrieved
candidates (listwise softmax) and above a random item (BPR). So the model learns to predict unseen items, as at
test time, not to recognise its own neighbours. Validation NDCG@10 (retrieve-then-rerank on the val split)
drives checkpointing and early stopping.
"""
from __future__ import annotations

import copy
import logging
from pathlib import Path

import lightning as L
import numpy as np
import torch
import torch.nn.functional as F

from mgw.rerank.data import RerankDataModule
from mgw.rerank.dataset import Phase, RerankData, preference_vectors, retrieve
from mgw.rerank.graph import Graph, build_graph
from mgw.rerank.inference import NodeCache, node_cache, score_phase
from mgw.rerank.metrics import rank_metrics, ranking_from_scores
from mgw.rerank.model import GATReranker

log = logging.getLogger(__name__)


class RerankSystem(L.LightningModule):
    def __init__(self, model: GATReranker, graph: Graph, hard_cand: np.ndarray, val_phase: Phase | None,
                 lr: float, holdout_frac: float, k: int):
        super().__init__()
        self.model, self.graph, self.val_phase = model, graph, val_phase
        self.hard_cand = torch.from_numpy(hard_cand)
        self.lr, self.holdout_frac, self.k = lr, holdout_frac, k
        self.history: list[dict] = []
        self.best_score, self.best_state, self.best_epoch = -1.0, None, -1
        self._losses: list[float] = []

    def on_fit_start(self) -> None:
        self.graph = self.graph.to(self.device)
        self.hard_cand = self.hard_cand.to(self.device)

    def training_step(self, batch, batch_idx):
        (users,) = batch
        g, U = self.graph, self.graph.n_users
        in_batch = torch.isin(g.ui_user, users)
        sup = in_batch & (torch.rand(len(g.ui_user), device=self.device) < self.holdout_frac)
        if not sup.any():
            return None
        u, pos = g.ui_user[sup], g.ui_item[sup]
        x_users = g.user_features(u, pos)
        _, h = self.model(torch.cat([x_users, g.item_emb]), g.edge_index(~sup))
        neg_rand = torch.randint(0, g.n_items, (len(u),), device=self.device)
        hu, xu = h[u], x_users[u]
        deg = torch.bincount(g.ui_item[~sup], minlength=g.n_items).float().log1p()
        h_items, emb = h[U:], g.item_emb

        def s(items):  # items [B, C] → scores of (user, item) pairs, exactly as GATReranker.score
            return self.model.score(hu, h_items[items], torch.einsum("bd,bcd->bc", xu, emb[items]), deg[items])

        sp = s(pos[:, None])[:, 0]
        # Listwise over the user's retrieved candidates (the reranking task), plus BPR against a random item.
        listwise = -F.log_softmax(torch.cat([sp[:, None], s(self.hard_cand[u])], 1), 1)[:, 0].mean()
        loss = listwise - F.logsigmoid(sp - s(neg_rand[:, None])[:, 0]).mean()
        self.log("train_loss", loss, prog_bar=True, on_step=False, on_epoch=True, batch_size=len(u))
        self._losses.append(float(loss.detach()))
        return loss

    def validation_step(self, batch, batch_idx):
        if self.val_phase is None:
            return
        cache = node_cache(self.model, self.graph.to("cpu"))
        scores = score_phase(self.model.cpu() if self.device.type != "cpu" else self.model, cache, self.val_phase)
        if self.device.type != "cpu":
            self.model.to(self.device)
        ranked = ranking_from_scores(self.val_phase.cand, scores)
        ndcg = float(rank_metrics(ranked, self.val_phase.relevant, self.k).iloc[:, 0].mean())
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


def fit_gat(data: RerankData, gp, seed: int, log_dir: str | Path, val_phase: Phase | None = None,
            progress: bool = True) -> tuple[GATReranker, Graph, NodeCache, dict]:
    """Train with Lightning; returns the best-validation model, its graph, node cache and training record."""
    from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint
    from lightning.pytorch.loggers import CSVLogger

    L.seed_everything(seed, workers=True, verbose=False)
    torch.set_num_threads(gp.threads)
    graph, hist = train_graph(data, gp.item_knn)
    if data.items.embeddings.shape[1] != gp.inputDim:
        raise ValueError(f"item embeddings have {data.items.embeddings.shape[1]} dims but gnn.inputDim is "
                         f"{gp.inputDim}")
    train_h = [hist[u] for u in graph.users]
    pref = preference_vectors(data.items.embeddings, train_h)
    hard, _ = retrieve(pref, data.items.embeddings, gp.candidates, [h.items for h in train_h])
    model = GATReranker(gp.inputDim, gp.hiddenDim, gp.heads, gp.dropout)
    system = RerankSystem(model, graph, hard, val_phase, gp.lr, gp.holdout_frac, gp.k)
    log_dir = Path(log_dir)
    ckpt = ModelCheckpoint(dirpath=log_dir / "checkpoints", monitor="val_ndcg10", mode="max", save_top_k=1,
                           save_weights_only=True, filename="best-{epoch}")
    callbacks = [ckpt]
    if val_phase is not None:
        callbacks.append(EarlyStopping(monitor="val_ndcg10", mode="max", patience=gp.patience))
    trainer = L.Trainer(max_epochs=gp.epochs, accelerator="auto", devices=1, logger=CSVLogger(log_dir, name="gat"),
                        callbacks=callbacks if val_phase is not None else [], enable_progress_bar=progress,
                        enable_model_summary=False, deterministic=False, num_sanity_val_steps=0,
                        log_every_n_steps=1, enable_checkpointing=val_phase is not None)
    trainer.fit(system, datamodule=RerankDataModule(graph.n_users, gp.batch_size, seed))
    model = system.model.cpu()
    if system.best_state is not None:
        model.load_state_dict(system.best_state)
    record = {"history": system.history, "best_epoch": system.best_epoch, "best_val_ndcg10": system.best_score,
              "epochs_run": len(system.history), "graph": {
                  "users": graph.n_users, "items": graph.n_items, "user_item_edges": int(len(graph.ui_user)),
                  "item_item_edges": int(graph.ii_edges.shape[1])}}
    graph = graph.to("cpu")
    return model, graph, node_cache(model, graph), record
