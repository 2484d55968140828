"""One serving replica's HNSW index and the health numbers measured on it.

The replica talks to hnswlib directly (`allow_replace_deleted=True`): a catalog update marks the old
vectors deleted and inserts the new ones into the freed slots (`replace_deleted=True`), which is how an
in-place HNSW deployment keeps its memory bounded — and why its graph degrades under churn. The
level-0 link lists are read from the library's own serialized state to count nodes that a traversal
from the entry point can no longer reach.
"""
from __future__ import annotations

import pickle
import time
from dataclasses import dataclass

import hnswlib
import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import breadth_first_order


@dataclass(frozen=True)
class HnswConfig:
    M: int = 8
    efConstruction: int = 40
    efSearch: int = 20
    threads: int = 1  # one thread: repair costs are per-core costs and the graph is deterministic


class HnswReplica:
    """An hnswlib index over (labels, vectors) with churn, clone and graph-reachability helpers."""

    def __init__(self, cfg: HnswConfig, dim: int, capacity: int, seed: int = 42):
        self.cfg, self.dim, self.capacity, self.seed = cfg, dim, capacity, seed
        self.index: hnswlib.Index | None = None

    def build(self, labels: np.ndarray, vectors: np.ndarray) -> float:
        """Fresh index over the given items; returns wall seconds spent."""
        t0 = time.perf_counter()
        idx = hnswlib.Index(space="cosine", dim=self.dim)
        idx.init_index(max_elements=self.capacity, M=self.cfg.M, ef_construction=self.cfg.efConstruction,
                       random_seed=self.seed, allow_replace_deleted=True)
        idx.set_num_threads(self.cfg.threads)
        idx.add_items(vectors, labels)
        idx.set_ef(self.cfg.efSearch)
        self.index = idx
        return time.perf_counter() - t0

    def churn(self, deleted: np.ndarray, new_labels: np.ndarray, new_vectors: np.ndarray) -> float:
        """Delete `deleted` (mark_deleted) and insert the new items into freed slots; wall seconds."""
        t0 = time.perf_counter()
        for lab in deleted.tolist():
            self.index.mark_deleted(int(lab))
        if len(new_labels):
            self.index.add_items(new_vectors, new_labels, replace_deleted=True)
        return time.perf_counter() - t0

    def clone(self) -> tuple["HnswReplica", float]:
        """Copy of this replica as a peer re-sync would ship it (serialize + load); wall seconds."""
        t0 = time.perf_counter()
        other = HnswReplica(self.cfg, self.dim, self.capacity, self.seed)
        other.index = pickle.loads(pickle.dumps(self.index))
        other.index.set_num_threads(self.cfg.threads)
        other.index.set_ef(self.cfg.efSearch)
        return other, time.perf_counter() - t0

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, float]:
        """Labels [nq, k] and mean seconds per query (one thread, one batch call)."""
        t0 = time.perf_counter()
        labels, _ = self.index.knn_query(queries, k=k, num_threads=1)
        return labels, (time.perf_counter() - t0) / len(queries)

    def unreachable(self) -> int:
        """Live elements that a breadth-first walk over level-0 links from the entry point never reaches."""
        state = self.index.__getstate__()[0]
        n = int(state["cur_element_count"])
        if n == 0:
            return 0
        per = int(state["size_data_per_element"])
        raw = np.asarray(state["data_level0"], dtype=np.uint8)[: n * per].reshape(n, per)
        max_m0 = int(state["max_M0"])
        header = raw[:, 0:4].copy().view(np.uint32).ravel()
        counts = (header & 0xFFFF).astype(np.int64)
        deleted = (raw[:, 2] & 0x01).astype(bool)
        links = raw[:, 4: 4 + 4 * max_m0].copy().view(np.uint32).reshape(n, max_m0).astype(np.int64)
        valid = np.arange(max_m0)[None, :] < counts[:, None]
        rows = np.repeat(np.arange(n), valid.sum(axis=1))
        graph = csr_matrix((np.ones(len(rows), dtype=np.int8), (rows, links[valid])), shape=(n, n))
        seen = np.zeros(n, dtype=bool)
        seen[breadth_first_order(graph, int(state["enterpoint_node"]), directed=True, return_predecessors=False)] = True
        return int((~seen & ~deleted).sum())
