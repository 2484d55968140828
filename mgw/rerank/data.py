"""LightningDataModule: a training epoch is one pass over the training lists (one per val-phase fit user) in
batches of `batch_size`; validation is a single pass over the tune users."""
from __future__ import annotations

import lightning as L
import torch
from torch.utils.data import DataLoader, TensorDataset


class RerankDataModule(L.LightningDataModule):
    def __init__(self, n_users: int, batch_size: int, seed: int):
        super().__init__()
        self.n_users, self.batch_size, self.seed = n_users, batch_size, seed

    def train_dataloader(self) -> DataLoader:
        gen = torch.Generator().manual_seed(self.seed)
        return DataLoader(TensorDataset(torch.arange(self.n_users)), batch_size=self.batch_size, shuffle=True,
                          generator=gen, num_workers=0)

    def val_dataloader(self) -> DataLoader:
        return DataLoader(TensorDataset(torch.zeros(1)), batch_size=1, num_workers=0)
