"""Swappable ANN indexes behind one interface: `make_index(backend, dim, metric, **build_params)`, `load_index(path)`.

Backends: hnswlib, faiss (any index_factory string via factory=...), annoy, exact (ground truth).
Aliases used by the tuner: faiss-hnsw-flat, faiss-hnsw-sq8 (factory HNSW{M},Flat / HNSW{M},SQ8).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from mgw.errors import DataError
from mgw.index.annoy_index import AnnoyIndex
from mgw.index.base import BaseIndex, LabelFilter, read_manifest
from mgw.index.exact import ExactIndex
from mgw.index.faiss_index import FaissIndex
from mgw.index.filtered import FilterPolicy
from mgw.index.hnsw import HnswIndex

BACKENDS: dict[str, type[BaseIndex]] = {"hnswlib": HnswIndex, "faiss": FaissIndex, "annoy": AnnoyIndex,
                                        "exact": ExactIndex}
FAISS_ALIASES = {"faiss-hnsw-flat": "HNSW{M},Flat", "faiss-hnsw-sq8": "HNSW{M},SQ8"}


def make_index(backend: str, dim: int, metric: str = "cosine", **build_params: Any) -> BaseIndex:
    """A new, empty index. `threads` and `seed` are accepted by every backend."""
    if backend in FAISS_ALIASES:
        m = build_params.pop("M", 32)
        build_params["factory"] = FAISS_ALIASES[backend].format(M=m)
        backend = "faiss"
    if backend not in BACKENDS:
        raise DataError(f"unknown index backend {backend!r} (known: {', '.join([*BACKENDS, *FAISS_ALIASES])})")
    return BACKENDS[backend](dim, metric, **build_params)


def load_index(path: str | Path) -> BaseIndex:
    """Load a saved index; checksums are verified first (CorruptFileError on mismatch)."""
    path = Path(path)
    manifest = read_manifest(path)
    backend = manifest["backend"]
    if backend not in BACKENDS:
        raise DataError(f"{path}: unknown backend {backend!r} in manifest")
    return BACKENDS[backend]._from_manifest(path, manifest)


__all__ = ["make_index", "load_index", "BaseIndex", "LabelFilter", "FilterPolicy", "BACKENDS"]
