"""The measuring instrument for tuning: held-out queries with exact ground truth, one build per
(backend, M, efConstruction), and recall@k + measured QPS for one efSearch.

The harness owns timing (ann-benchmarks style): QPS = queries / wall time of the search call(s),
threads pinned, best of N runs after one warm-up. The index adapters come from `mgw.index`.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mgw.errors import DataError

# Tuning backends → (mgw.index backend, faiss index_factory template or None).
BACKENDS: dict[str, tuple[str, str | None]] = {
    "hnswlib": ("hnswlib", None),
    "faiss-hnsw-flat": ("faiss", "HNSW{M},Flat"),
    "faiss-hnsw-sq8": ("faiss", "HNSW{M},SQ8"),
}


@dataclass
class TuneData:
    """Base vectors, held-out queries and their exact top-k neighbours (row indices into base)."""

    base: np.ndarray
    queries: np.ndarray
    neighbors: np.ndarray
    name: str
    seed: int

    @property
    def k(self) -> int:
        return int(self.neighbors.shape[1])

    def describe(self) -> dict:
        return {"name": self.name, "n_base": int(len(self.base)), "n_queries": int(len(self.queries)),
                "dim": int(self.base.shape[1]), "k": self.k, "split_seed": self.seed, "metric": "cosine"}


def _normalize(x: np.ndarray) -> np.ndarray:
    x = np.ascontiguousarray(x, dtype=np.float32)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return x / norms


def exact_neighbors(base: np.ndarray, queries: np.ndarray, k: int, block: int = 1024) -> np.ndarray:
    """Exact top-k by cosine (inner product of unit vectors), ties broken by lower row index."""
    out = np.empty((len(queries), k), dtype=np.int64)
    for s in range(0, len(queries), block):
        sims = queries[s:s + block] @ base.T
        part = np.argpartition(-sims, k - 1, axis=1)[:, :k]
        order = np.lexsort((part, -np.take_along_axis(sims, part, axis=1)), axis=1)
        out[s:s + block] = np.take_along_axis(part, order, axis=1)
    return out


def split(vectors: np.ndarray, n_queries: int, k: int, seed: int, name: str) -> TuneData:
    """Seeded hold-out: n_queries rows become queries, the rest the index; ground truth by exact search."""
    vectors = np.asarray(vectors)
    if vectors.ndim != 2 or len(vectors) == 0:
        raise DataError(f"{name}: expected a 2-d array of vectors, got shape {vectors.shape}")
    if not np.isfinite(vectors).all():
        raise DataError(f"{name}: vectors contain NaN or inf")
    if not 1 <= n_queries < len(vectors) - k:
        raise DataError(f"{name}: {n_queries} held-out queries leave too few of {len(vectors)} vectors "
                        f"for k={k}")
    vectors = _normalize(vectors)
    perm = np.random.default_rng(seed).permutation(len(vectors))
    queries, base = vectors[perm[:n_queries]], vectors[np.sort(perm[n_queries:])]
    return TuneData(base=np.ascontiguousarray(base), queries=np.ascontiguousarray(queries),
                    neighbors=exact_neighbors(base, queries, k), name=name, seed=seed)


def synthetic_vectors(n: int, dim: int = 384, seed: int = 0, clusters: int = 64) -> np.ndarray:
    """Seeded clustered unit vectors: a stand-in when no catalog embeddings exist (tests, demo runs)."""
    rng = np.random.default_rng(seed)
    centers = rng.standard_normal((clusters, dim)).astype(np.float32)
    labels = rng.integers(0, clusters, n)
    x = centers[labels] + 0.9 * rng.standard_normal((n, dim)).astype(np.float32)
    return _normalize(x)


def load_data(embeddings: str | Path | None, n_queries: int, k: int, seed: int,
              synthetic_n: int = 3000) -> TuneData:
    """Held-out split of an embeddings .npy; `None` → seeded synthetic vectors (named as such in results)."""
    if embeddings is None:
        return split(synthetic_vectors(synthetic_n, seed=seed), n_queries, k, seed, f"synthetic-{synthetic_n}")
    path = Path(embeddings)
    if not path.exists():
        raise FileNotFoundError(f"embeddings file {path} not found (run `mgw embed`, or pass --embeddings)")
    return split(np.load(path, mmap_mode="r"), n_queries, k, seed, str(path))


def recall_at_k(found: np.ndarray, truth: np.ndarray) -> float:
    """Mean share of the true top-k row ids among the returned k (by id)."""
    k = truth.shape[1]
    hits = sum(len(np.intersect1d(f[:k], t, assume_unique=False)) for f, t in zip(found, truth))
    return hits / (len(truth) * k)


def build(backend: str, M: int, efConstruction: int, data: TuneData, threads: int, seed: int = 100):
    """One index built on data.base (row index = id). Returns (index, build seconds)."""
    from mgw.index import make_index

    if backend not in BACKENDS:
        raise DataError(f"unknown tuning backend {backend!r} (known: {', '.join(BACKENDS)})")
    index = make_index(backend, data.base.shape[1], metric="cosine", M=M, efConstruction=efConstruction,
                       threads=threads, seed=seed)
    ids = np.arange(len(data.base)).astype(str)  # external ids are the base row numbers
    t0 = time.perf_counter()
    index.build(data.base, ids)
    return index, time.perf_counter() - t0


def measure(index, data: TuneData, efSearch: int, *, runs: int = 3, threads: int = 2) -> dict:
    """recall@k and measured QPS (queries / wall seconds, best of `runs` after one warm-up batch)."""
    index.set_query_params(efSearch=efSearch)
    k = data.k
    ids, _ = index.search(data.queries, k)  # warm-up; also the answer recall is computed from
    recall = recall_at_k(np.asarray(ids).astype(np.int64), data.neighbors)
    best = float("inf")
    for _ in range(max(1, runs)):
        t0 = time.perf_counter()
        index.search(data.queries, k)
        best = min(best, time.perf_counter() - t0)
    return {"recall": recall, "qps": len(data.queries) / best, "wall_s": best, "runs": max(1, runs)}
