"""The measuring instrument for tuning: held-out queries with exact ground truth, one build per
(backend, M, efConstruction), and recall@k + measured QPS for one efSearch.

The harness owns timing (ann-benchmarks style): QPS = queries / wall time of the search call(s),
threads pinned, best of N runs after one warm-up. Index adapters come from `mgw.index`; the dataset recipe,
ground truth, recall and the timing loop from `mgw.bench`, so tuning and benchmark numbers are comparable.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mgw.config import ROOT
from mgw.errors import DataError
from mgw.index import FAISS_ALIASES

# Tuning backends → (mgw.index backend, faiss index_factory template or None); the templates are mgw.index's.
BACKENDS: dict[str, tuple[str, str | None]] = {"hnswlib": ("hnswlib", None),
                                               **{alias: ("faiss", t) for alias, t in FAISS_ALIASES.items()}}


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


def split(vectors: np.ndarray, n_queries: int, k: int, seed: int, name: str) -> TuneData:
    """Seeded hold-out of in-memory vectors (tests, notebooks); ground truth from mgw.bench's exact search."""
    from mgw.bench.datasets import ground_truth, normalize

    vectors = np.asarray(vectors)
    if vectors.ndim != 2 or len(vectors) == 0:
        raise DataError(f"{name}: expected a 2-d array of vectors, got shape {vectors.shape}")
    if not np.isfinite(vectors).all():
        raise DataError(f"{name}: vectors contain NaN or inf")
    if not 1 <= n_queries < len(vectors) - k:
        raise DataError(f"{name}: {n_queries} held-out queries leave too few of {len(vectors)} vectors for k={k}")
    vectors = normalize(vectors)
    perm = np.random.default_rng(seed).permutation(len(vectors))
    base, queries = np.ascontiguousarray(vectors[perm[n_queries:]]), np.ascontiguousarray(vectors[perm[:n_queries]])
    neighbors, _ = ground_truth(base, queries, k)
    return TuneData(base=base, queries=queries, neighbors=neighbors.astype(np.int64), name=name, seed=seed)


def synthetic_vectors(n: int, dim: int = 384, seed: int = 0, clusters: int = 64) -> np.ndarray:
    """Seeded clustered unit vectors for tests (small dims); real-shaped synthetic data comes from mgw.bench."""
    rng = np.random.default_rng(seed)
    centers = rng.standard_normal((clusters, dim)).astype(np.float32)
    x = centers[rng.integers(0, clusters, n)] + 0.9 * rng.standard_normal((n, dim)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def load_data(embeddings: str | Path | None, n_queries: int, k: int, seed: int,
              synthetic_n: int = 3000) -> TuneData:
    """mgw.bench's dataset recipe without its cache: `catalog-minilm-384` (seeded hold-out of an embeddings
    .npy) or, for `None`, `synth-<N>` from the bench's default generator. Ground truth is exact top-k."""
    from mgw.bench.datasets import CATALOG, build_dataset

    if embeddings is None:
        ds = build_dataset(f"synth-{synthetic_n}", None, n_queries, seed)
    else:
        path = Path(embeddings)
        if not path.is_absolute() and not path.exists():
            path = ROOT / path
        if not path.exists():
            raise FileNotFoundError(f"embeddings file {embeddings} not found (run `mgw embed`, or pass --embeddings)")
        ds = build_dataset(CATALOG, path, n_queries, seed)
        if not np.isfinite(ds.train).all() or not np.isfinite(ds.test).all():
            raise DataError(f"{path}: embeddings contain NaN or inf")
    if ds.neighbors.shape[1] < k:
        raise DataError(f"{ds.name}: only {ds.neighbors.shape[1]} ground-truth neighbours for k={k}")
    name = str(ds.attrs.get("source") or ds.name) if embeddings is not None else ds.name
    return TuneData(base=np.ascontiguousarray(ds.train), queries=np.ascontiguousarray(ds.test),
                    neighbors=np.asarray(ds.neighbors[:, :k], dtype=np.int64), name=name, seed=seed)


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
    """recall@k and measured QPS for one efSearch: mgw.bench's batch mode (all held-out queries in one call
    on the index's pinned threads, queries / wall seconds, best of `runs` after a warm-up)."""
    from mgw.bench.metrics import recall_at_k
    from mgw.bench.runner import measure_qps

    index.set_query_params(efSearch=efSearch, threads=threads)
    k = data.k
    ids, _ = index.search(data.queries, k)
    recall = float(recall_at_k(np.asarray(ids).astype(np.int64), data.neighbors, k).mean())
    timed = measure_qps(None, data.queries, mode="batch", runs=max(1, runs), threads=threads,
                        search_batch=lambda q: index.search(q, k))
    return {"recall": recall, "qps": float(timed["qps"]), "wall_s": float(timed["wall_s"]), "runs": max(1, runs)}
