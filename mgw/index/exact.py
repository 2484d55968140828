"""Exact brute force (numpy matmul): the ground truth every other backend is measured against.

Vectors are kept in a label-indexed float32 matrix; removed rows are masked, never compacted,
so labels stay stable. Search threads follow the BLAS pool (OMP_NUM_THREADS / threadpoolctl).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from mgw.errors import DataError
from mgw.index.base import BaseIndex

CHUNK = 256  # queries per matmul block (bounds memory at nq × n floats)


class ExactIndex(BaseIndex):
    backend = "exact"
    supports = {"add": True, "remove": True, "update": True, "in_graph_filter": True}
    query_param_names = ()

    def _check_build_params(self) -> None:
        if self.build_params:
            raise DataError(f"exact: takes no build params, got {sorted(self.build_params)}")

    def _native_build(self, vectors, labels):
        self.vectors = vectors.copy()
        self.alive = np.ones(len(labels), dtype=bool)

    def _native_add(self, vectors, labels):
        self.vectors = np.concatenate([self.vectors, vectors])
        self.alive = np.concatenate([self.alive, np.ones(len(labels), dtype=bool)])

    def _native_remove(self, labels):
        self.alive[labels] = False

    def _native_update(self, vectors, labels):
        self.vectors[labels] = vectors

    def _native_search(self, queries, k, labels=None, threads=None):
        from mgw.index.filtered import _topk

        pool = np.flatnonzero(self.alive) if labels is None else labels
        found = np.full((len(queries), k), -1, dtype=np.int64)
        scores = np.full((len(queries), k), np.nan, dtype=np.float32)
        x = self.vectors if (labels is None and self.alive.all()) else self.vectors[pool]
        for s in range(0, len(queries), CHUNK):
            sc = self._exact_scores(queries[s:s + CHUNK], x)
            cols = _topk(sc, k, self.higher_is_better)
            m = cols.shape[1]
            found[s:s + CHUNK, :m] = pool[cols]
            scores[s:s + CHUNK, :m] = np.take_along_axis(sc, cols, 1)
        return found, scores

    def _native_vectors(self, labels):
        return self.vectors[labels]

    def _native_save(self, directory: Path):
        np.save(directory / "vectors.npy", self.vectors)
        np.save(directory / "alive.npy", self.alive)
        return ["vectors.npy", "alive.npy"]

    def _native_load(self, directory: Path, files):
        self.vectors = np.load(directory / "vectors.npy")
        self.alive = np.load(directory / "alive.npy")
        if self.vectors.shape != (len(self._ids), self.dim):
            raise ValueError(f"vectors.npy has shape {self.vectors.shape}, expected ({len(self._ids)}, {self.dim})")

    def raw(self):
        return self.vectors
