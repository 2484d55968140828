"""hnswlib adapter: HNSW graph (seed default M=32, efConstruction=200, efSearch=100).

Cosine vectors arrive unit-norm from BaseIndex and are stored in hnswlib's 'ip' space
(distance = 1 - ip, so score = 1 - distance); 'l2' distances are squared in hnswlib → sqrt.
Deletes use hnswlib's mark_deleted; updates re-add an existing label (hnswlib updates in place).
"""
from __future__ import annotations

from pathlib import Path

import hnswlib
import numpy as np

from mgw.errors import DataError
from mgw.index.base import BaseIndex

SPACE = {"cosine": "ip", "ip": "ip", "l2": "l2"}


class HnswIndex(BaseIndex):
    backend = "hnswlib"
    supports = {"add": True, "remove": True, "update": True, "in_graph_filter": True}
    query_param_names = ("efSearch",)

    def _check_build_params(self) -> None:
        p = self.build_params
        unknown = set(p) - {"M", "efConstruction"}
        if unknown:
            raise DataError(f"hnswlib: unknown build params {sorted(unknown)} (known: M, efConstruction)")
        p.setdefault("M", 32)
        p.setdefault("efConstruction", 200)
        if int(p["M"]) < 2 or int(p["efConstruction"]) < 1:
            raise DataError(f"hnswlib: M must be ≥ 2 and efConstruction ≥ 1, got {p}")
        self.query_params.setdefault("efSearch", 100)

    def _new(self, capacity: int) -> hnswlib.Index:
        index = hnswlib.Index(space=SPACE[self.metric], dim=self.dim)
        index.init_index(max_elements=capacity, M=int(self.build_params["M"]),
                         ef_construction=int(self.build_params["efConstruction"]), random_seed=self.seed)
        return index

    def _native_build(self, vectors, labels):
        self.index = self._new(len(labels))
        self.index.add_items(vectors, labels, num_threads=self.threads)
        self._dense = None

    def _native_add(self, vectors, labels):
        need = self.index.get_current_count() + len(labels)
        if need > self.index.get_max_elements():
            self.index.resize_index(max(need, int(self.index.get_max_elements() * 1.5)))
        self.index.add_items(vectors, labels, num_threads=self.threads)
        if self._dense is not None:
            self._dense = np.concatenate([self._dense, np.asarray(vectors, np.float32)])

    def _native_remove(self, labels):
        for lab in labels.tolist():
            self.index.mark_deleted(lab)

    def _native_update(self, vectors, labels):
        self.index.add_items(vectors, labels, num_threads=self.threads)
        if self._dense is not None:
            self._dense[labels] = vectors

    def _native_apply_query_params(self):
        self.index.set_ef(int(self.query_params["efSearch"]))

    def _native_search(self, queries, k, labels=None, threads=None):
        threads = threads or self.threads
        flt = None
        if labels is not None:
            allowed = set(labels.tolist())
            flt, threads = allowed.__contains__, 1  # Python callback: keep it on one thread (GIL)
        try:
            if flt is None:  # the benchmark's raw baseline makes this very call
                return self.index.knn_query(queries, k, threads)  # labels uint64
            return self.index.knn_query(queries, k, threads, flt)
        except RuntimeError:  # fewer than k reachable results in some row: go row by row, pad with -1
            found = np.full((len(queries), k), -1, dtype=np.int64)
            dist = np.full((len(queries), k), np.nan, dtype=np.float32)
            for i, q in enumerate(queries):
                for kk in (k, k // 2, 1):
                    try:
                        f, d = self.index.knn_query(q, k=max(kk, 1), num_threads=1, filter=flt)
                        found[i, :f.shape[1]], dist[i, :f.shape[1]] = f[0], d[0]
                        break
                    except RuntimeError:
                        continue
            return found, dist

    def _native_search_one(self, v, k):
        try:
            labels, dist = self.index.knn_query(v, k, self.threads)  # the raw baseline's call
        except RuntimeError:  # fewer than k reachable: the general path searches row by row and completes
            return None
        d = dist[0]
        if self.metric != "l2":
            return labels[0], np.subtract(1.0, d, d)  # in place; hnswlib's labels are full (uint64, never -1)
        return labels[0], np.sqrt(np.maximum(d, 0, d), d)

    def _to_score(self, raw):
        return 1.0 - raw if self.metric != "l2" else np.sqrt(np.maximum(raw, 0))

    def _native_vectors(self, labels):
        """Stored vectors by label from a dense copy made on first use (hnswlib's get_items costs ~10 µs per
        item, which made brute force over a filtered subset cost milliseconds); kept in sync by add/update.
        Rows of removed labels stay zero (hnswlib no longer returns them; no search asks for them)."""
        if self._dense is None:
            dense = np.zeros((len(self._ids), self.dim), dtype=np.float32)
            live = np.flatnonzero(self._ids != None)  # noqa: E711  (object array comparison)
            for s in range(0, live.size, 4096):
                part = live[s:s + 4096]
                dense[part] = np.asarray(self.index.get_items(part, return_type="numpy"),
                                         dtype=np.float32).reshape(-1, self.dim)
            self._dense = dense
        return self._dense[labels]

    def _native_save(self, directory: Path):
        self.index.save_index(str(directory / "index.bin"))
        return ["index.bin"]

    def _native_load(self, directory: Path, files):
        self._dense = None
        self.index = hnswlib.Index(space=SPACE[self.metric], dim=self.dim)
        self.index.load_index(str(directory / "index.bin"), max_elements=max(len(self._ids), 1))
        if self.index.get_current_count() != len(self._ids):
            raise ValueError(f"index.bin holds {self.index.get_current_count()} items, ids.json {len(self._ids)}")

    def raw(self):
        """The hnswlib.Index itself (the benchmark times it directly for the mgw/raw ratio)."""
        return self.index
