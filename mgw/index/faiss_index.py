"""FAISS adapter: any index_factory string ("HNSW32,Flat", "HNSW32,SQ8", "IVF256,Flat", "IVF256,PQ48", "Flat").

Cosine/ip use METRIC_INNER_PRODUCT on unit-norm vectors (score = inner product); l2 uses METRIC_L2
(squared in faiss → sqrt). Non-IVF indexes are wrapped in IDMap2 so our int labels are the faiss ids;
IVF indexes take ids natively and get a hashtable direct map so vectors can be reconstructed and
removed. HNSW indexes cannot remove (faiss limitation) → NotSupportedError. Filtering uses IDSelectorBatch.
"""
from __future__ import annotations

from pathlib import Path

import faiss
import numpy as np

from mgw.errors import DataError
from mgw.index.base import BaseIndex

_swig_ptr = faiss.swig_ptr
_omp_threads = [0]  # what this module last passed to omp_set_num_threads (0: unknown)


def set_omp_threads(n: int) -> None:
    """faiss's OpenMP pool size, skipping the call when this module already set it to n (the single-query
    path runs ~25 µs searches, where a redundant call into the library is a visible share). A stale value
    (someone else called faiss.omp_set_num_threads) only costs speed: results do not depend on it."""
    if _omp_threads[0] != n:
        faiss.omp_set_num_threads(n)
        _omp_threads[0] = n


class FaissIndex(BaseIndex):
    backend = "faiss"
    query_param_names = ("efSearch", "nprobe")

    def _check_build_params(self) -> None:
        p = self.build_params
        unknown = set(p) - {"factory", "efConstruction", "train_size"}
        if unknown:
            raise DataError(f"faiss: unknown build params {sorted(unknown)} (known: factory, efConstruction, "
                            f"train_size)")
        p.setdefault("factory", "HNSW32,Flat")
        factory = str(p["factory"])
        self.is_hnsw = "HNSW" in factory
        self.is_ivf = factory.startswith("IVF")
        if self.is_hnsw:
            p.setdefault("efConstruction", 200)
            self.query_params.setdefault("efSearch", 100)
        if self.is_ivf:
            self.query_params.setdefault("nprobe", 16)
        can_remove = not self.is_hnsw
        self.supports = {"add": True, "remove": can_remove, "update": can_remove, "in_graph_filter": True}
        try:  # validate the factory string now, not at build
            faiss.index_factory(self.dim, factory, self._faiss_metric())
        except RuntimeError as e:
            raise DataError(f"faiss: invalid factory string {factory!r}: {str(e).splitlines()[0]}") from None

    def _faiss_metric(self):
        return faiss.METRIC_L2 if self.metric == "l2" else faiss.METRIC_INNER_PRODUCT

    def describe(self) -> str:
        return f"faiss({self.build_params['factory']})"

    def _native_build(self, vectors, labels):
        set_omp_threads(self.threads)
        factory = str(self.build_params["factory"])
        index = faiss.index_factory(self.dim, factory if self.is_ivf else "IDMap2," + factory, self._faiss_metric())
        inner = faiss.downcast_index(index if self.is_ivf else index.index)
        if self.is_hnsw:
            inner.hnsw.efConstruction = int(self.build_params["efConstruction"])
        if not index.is_trained:
            n_train = int(self.build_params.get("train_size") or len(vectors))
            rng = np.random.default_rng(self.seed)
            sample = vectors if n_train >= len(vectors) else vectors[rng.choice(len(vectors), n_train, replace=False)]
            try:
                index.train(sample)
            except RuntimeError as e:
                raise DataError(f"faiss: training {factory} failed on {len(sample)} vectors: "
                                f"{str(e).splitlines()[0]}") from None
        if self.is_ivf:
            faiss.extract_index_ivf(index).set_direct_map_type(faiss.DirectMap.Hashtable)
        index.add_with_ids(vectors, labels)
        self.index = index
        self._bind_search_one()

    def _bind_search_one(self) -> None:
        """The C++ search of the index the single-query path calls (see `_native_search_one`). An HNSW index
        cannot remove or update (faiss), so the IDMap2 around it maps internal id i to label i: the graph is
        searched directly and the map's per-call translation loop (an OpenMP region) is skipped."""
        inner = self.index
        if self.is_hnsw and np.array_equal(faiss.vector_to_array(self.index.id_map), np.arange(self.index.ntotal)):
            inner = faiss.downcast_index(self.index.index)
        self._search_c = inner.search_c

    def _native_add(self, vectors, labels):
        set_omp_threads(self.threads)
        self.index.add_with_ids(vectors, labels)

    def _native_remove(self, labels):
        removed = self.index.remove_ids(np.ascontiguousarray(labels, dtype=np.int64))
        if removed != len(labels):
            raise RuntimeError(f"faiss removed {removed} of {len(labels)} ids")

    def _native_update(self, vectors, labels):
        self._native_remove(labels)
        self.index.add_with_ids(vectors, labels)

    def _native_apply_query_params(self):
        if self.is_hnsw:
            inner = faiss.downcast_index(self.index.index)
            inner.hnsw.efSearch = int(self.query_params["efSearch"])
        if self.is_ivf:
            faiss.extract_index_ivf(self.index).nprobe = int(self.query_params["nprobe"])

    def _search_params(self, sel):
        if self.is_hnsw:
            return faiss.SearchParametersHNSW(sel=sel, efSearch=int(self.query_params["efSearch"]))
        if self.is_ivf:
            return faiss.SearchParametersIVF(sel=sel, nprobe=int(self.query_params["nprobe"]))
        return faiss.SearchParameters(sel=sel)

    def _native_search(self, queries, k, labels=None, threads=None):
        n = threads or self.threads  # a batch always sets the pool: its cost is nothing next to the search
        faiss.omp_set_num_threads(n)
        _omp_threads[0] = n
        if labels is None:
            dist, found = self.index.search(queries, k)
        else:
            sel = faiss.IDSelectorBatch(np.ascontiguousarray(labels, dtype=np.int64))
            params = self._search_params(sel)
            dist, found = self.index.search(queries, k, params=params)
            del params, sel
        return found, dist

    def _native_search_one(self, v, k):
        """One query through the index's C++ `search` (what faiss's Python `index.search` wraps, without the
        wrapper's reshaping, asserts and dtype conversion: `_search_one` has validated `v` already)."""
        set_omp_threads(self.threads)
        dist = np.empty(k, dtype=np.float32)
        found = np.empty(k, dtype=np.int64)
        self._search_c(1, _swig_ptr(v), k, _swig_ptr(dist), _swig_ptr(found), None)
        if found[-1] < 0:  # fewer than k found: the general path completes the result
            return None
        return found, (np.sqrt(np.maximum(dist, 0, out=dist), out=dist) if self.metric == "l2" else dist)

    def _to_score(self, raw):
        return np.sqrt(np.maximum(raw, 0)) if self.metric == "l2" else raw

    def _native_vectors(self, labels):
        return self.index.reconstruct_batch(np.ascontiguousarray(labels, dtype=np.int64))

    def _native_save(self, directory: Path):
        faiss.write_index(self.index, str(directory / "index.faiss"))
        return ["index.faiss"]

    def _native_load(self, directory: Path, files):
        self.index = faiss.read_index(str(directory / "index.faiss"))
        if self.index.ntotal != len(self):
            raise ValueError(f"index.faiss holds {self.index.ntotal} vectors, ids.json {len(self)} live ids")
        self._bind_search_one()

    def raw(self):
        return self.index
