"""Test helpers for the store: a tiny exact numpy index with the `mgw.index` method names, and a factory
string the crash-test writer subprocess can import. The store works with any backend; this one keeps the
store's tests independent of the index engineer's code and of library nondeterminism."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from mgw.errors import CorruptFileError, DataError, DimensionError, UnknownIdError


class NumpyExactIndex:
    """Brute-force cosine/ip index: `build`, `add`, `remove`, `search`, `save`, `load`."""

    def __init__(self, dim: int, metric: str = "cosine"):
        self.dim, self.metric = dim, metric
        self.ids: list[str] = []
        self.vectors = np.zeros((0, dim), np.float32)

    def _prep(self, vectors) -> np.ndarray:
        x = np.asarray(vectors, np.float32).reshape(-1, self.dim) if np.size(vectors) else np.zeros((0, self.dim), np.float32)
        if x.shape[1] != self.dim:
            raise DimensionError(f"expected dim {self.dim}, got {x.shape[1]}")
        if self.metric == "cosine" and len(x):
            x = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
        return x

    def build(self, vectors, ids) -> "NumpyExactIndex":
        self.ids, self.vectors = [], np.zeros((0, self.dim), np.float32)
        return self.add(vectors, ids)

    def add(self, vectors, ids) -> "NumpyExactIndex":
        x = self._prep(vectors)
        ids = [str(i) for i in ids]
        if len(ids) != len(x) or len(set(ids)) != len(ids) or set(ids) & set(self.ids):
            raise DataError("ids must be unique, new and one per vector")
        self.ids += ids
        self.vectors = np.vstack([self.vectors, x])
        return self

    def remove(self, ids) -> None:
        gone = set(map(str, ids))
        if gone - set(self.ids):
            raise UnknownIdError(f"unknown ids: {sorted(gone - set(self.ids))[:5]}")
        keep = [i for i, x in enumerate(self.ids) if x not in gone]
        self.ids = [self.ids[i] for i in keep]
        self.vectors = self.vectors[keep]

    def search(self, queries, k: int, filter=None):
        q = self._prep(queries)
        if not 0 < k <= len(self.ids):
            raise DataError(f"k={k} outside 1..{len(self.ids)}")
        sims = q @ self.vectors.T
        order = np.argsort(-sims, axis=1, kind="stable")[:, :k]
        ids = np.asarray(self.ids, dtype=object)[order]
        return ids, np.take_along_axis(sims, order, axis=1)

    def save(self, path) -> None:
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        np.save(path / "vectors.npy", self.vectors)
        (path / "manifest.json").write_text(json.dumps({"dim": self.dim, "metric": self.metric, "ids": self.ids}))

    @classmethod
    def load(cls, path) -> "NumpyExactIndex":
        path = Path(path)
        try:
            man = json.loads((path / "manifest.json").read_text())
            idx = cls(man["dim"], man["metric"])
            idx.ids, idx.vectors = list(man["ids"]), np.load(path / "vectors.npy")
        except (OSError, ValueError, KeyError) as e:
            raise CorruptFileError(f"cannot load exact index at {path}: {e}") from e
        if len(idx.ids) != len(idx.vectors):
            raise CorruptFileError(f"index at {path}: {len(idx.ids)} ids for {len(idx.vectors)} vectors")
        return idx


def exact_factory(dim: int, metric: str = "cosine") -> NumpyExactIndex:
    return NumpyExactIndex(dim, metric)


def exact_loader(path) -> NumpyExactIndex:
    return NumpyExactIndex.load(path)


EXACT = "mgw.testing.store_contract:exact_factory"
EXACT_LOADER = "mgw.testing.store_contract:exact_loader"
