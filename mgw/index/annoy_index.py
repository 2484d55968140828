"""annoy adapter: random-projection forest (static: no add after build, no remove/update).

Metric map: cosine → 'angular' (distance sqrt(2 - 2cos) → score = 1 - d²/2), ip → 'dot', l2 → 'euclidean'.
Annoy has no in-graph filter, so filtered search uses brute force over the subset or over-fetch.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from annoy import AnnoyIndex as _Annoy

from mgw.errors import DataError
from mgw.index.base import BaseIndex

ANNOY_METRIC = {"cosine": "angular", "ip": "dot", "l2": "euclidean"}


class AnnoyIndex(BaseIndex):
    backend = "annoy"
    supports = {"add": False, "remove": False, "update": False, "in_graph_filter": False}
    query_param_names = ("search_k",)

    def _check_build_params(self) -> None:
        p = self.build_params
        unknown = set(p) - {"n_trees"}
        if unknown:
            raise DataError(f"annoy: unknown build params {sorted(unknown)} (known: n_trees)")
        p.setdefault("n_trees", 100)
        if int(p["n_trees"]) < 1:
            raise DataError(f"annoy: n_trees must be ≥ 1, got {p['n_trees']}")
        self.query_params.setdefault("search_k", -1)

    def _native_build(self, vectors, labels):
        index = _Annoy(self.dim, ANNOY_METRIC[self.metric])
        index.set_seed(self.seed)
        for lab, v in zip(labels.tolist(), vectors):
            index.add_item(lab, v)
        index.build(int(self.build_params["n_trees"]), n_jobs=self.threads)
        self.index = index

    def _native_search(self, queries, k, labels=None, threads=None):
        found = np.full((len(queries), k), -1, dtype=np.int64)
        dist = np.full((len(queries), k), np.nan, dtype=np.float32)
        search_k = self._search_k
        nns = self.index.get_nns_by_vector
        for i, q in enumerate(queries):
            f, d = nns(q, k, search_k, True)
            found[i, :len(f)], dist[i, :len(d)] = f, d
        return found, dist

    def _native_search_one(self, v, k):
        found, dist = self.index.get_nns_by_vector(v, k, self._search_k, True)
        if len(found) < k:  # the forest gave fewer: the general path pads and completes
            return None
        if self.metric == "cosine":  # 1 - d²/2 on the ten Python floats, one array at the end
            return found, np.array([1.0 - 0.5 * x * x for x in dist], dtype=np.float32)
        return found, np.array(dist, dtype=np.float32)

    def _native_apply_query_params(self):
        self._search_k = int(self.query_params["search_k"])

    def _to_score(self, raw):
        return 1.0 - raw * raw / 2.0 if self.metric == "cosine" else raw

    def _native_vectors(self, labels):
        get = self.index.get_item_vector
        return np.asarray([get(lab) for lab in labels.tolist()], dtype=np.float32).reshape(-1, self.dim)

    def _native_save(self, directory: Path):
        self.index.save(str(directory / "index.ann"))
        return ["index.ann"]

    def _native_load(self, directory: Path, files):
        self.index = _Annoy(self.dim, ANNOY_METRIC[self.metric])
        if not self.index.load(str(directory / "index.ann")):
            raise ValueError("annoy could not load index.ann")
        if self.index.get_n_items() != len(self._ids):
            raise ValueError(f"index.ann holds {self.index.get_n_items()} items, ids.json {len(self._ids)}")

    def raw(self):
        return self.index
