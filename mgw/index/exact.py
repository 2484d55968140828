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
        self._pool = None

    def _native_add(self, vectors, labels):
        self.vectors = np.concatenate([self.vectors, vectors])
        self.alive = np.concatenate([self.alive, np.ones(len(labels), dtype=bool)])
        self._pool = None

    def _native_remove(self, labels):
        self.alive[labels] = False
        self._pool = None

    def _native_update(self, vectors, labels):
        self.vectors[labels] = vectors
        self._pool = None

    def _live(self) -> tuple[np.ndarray | None, np.ndarray]:
        """(live labels or None when every label is live, the matrix to scan): kept between searches."""
        if self._pool is None:
            pool = None if self.alive.all() else np.flatnonzero(self.alive)
            self._pool = (pool, self.vectors if pool is None else self.vectors[pool])
        return self._pool

    def _native_search(self, queries, k, labels=None, threads=None):
        from mgw.index.filtered import _topk

        if labels is None:
            pool, x = self._live()
        else:
            pool, x = labels, self.vectors[labels]
        if len(queries) == 1 and self.metric != "l2":  # one query: a gemv and a partial sort of one row
            found, scores = self._one(queries[0], k, pool, x)
            return found[None], scores[None]
        found = np.full((len(queries), k), -1, dtype=np.int64)
        scores = np.full((len(queries), k), np.nan, dtype=np.float32)
        for s in range(0, len(queries), CHUNK):
            sc = self._exact_scores(queries[s:s + CHUNK], x)
            cols = _topk(sc, k, self.higher_is_better)
            m = cols.shape[1]
            found[s:s + CHUNK, :m] = cols if pool is None else pool[cols]
            scores[s:s + CHUNK, :m] = np.take_along_axis(sc, cols, 1)
        return found, scores

    def _one(self, v, k, pool, x):
        """Top k of one query by inner product (ranked), padded with -1 / NaN when fewer than k exist."""
        s = x @ v
        m = min(k, s.size)
        top = np.argpartition(s, s.size - m)[s.size - m:] if m < s.size else np.arange(s.size)
        top = top[np.argsort(-s[top], kind="stable")]
        labels, scores = (top if pool is None else pool[top]), s[top]
        if m < k:
            labels = np.concatenate([labels, np.full(k - m, -1, dtype=np.int64)])
            scores = np.concatenate([scores, np.full(k - m, np.nan, dtype=np.float32)])
        return labels, scores

    def _native_search_one(self, v, k):
        if self.metric == "l2":
            return super()._native_search_one(v, k)
        pool, x = self._live()  # k ≤ live count: BaseIndex checked it
        s = x @ v
        top = np.argpartition(s, s.size - k)[s.size - k:] if k < s.size else np.arange(s.size)
        top = top[np.argsort(-s[top], kind="stable")]
        return (top if pool is None else pool[top]), s[top]

    def _native_vectors(self, labels):
        return self.vectors[labels]

    def _native_save(self, directory: Path):
        np.save(directory / "vectors.npy", self.vectors)
        np.save(directory / "alive.npy", self.alive)
        return ["vectors.npy", "alive.npy"]

    def _native_load(self, directory: Path, files):
        self.vectors = np.load(directory / "vectors.npy")
        self.alive = np.load(directory / "alive.npy")
        self._pool = None
        if self.vectors.shape != (len(self._ids), self.dim):
            raise ValueError(f"vectors.npy has shape {self.vectors.shape}, expected ({len(self._ids)}, {self.dim})")

    def raw(self):
        return self.vectors
