"""Swappable ANN indexes behind one interface: `make_index(backend, dim, metric, **build_params)`, `load_index(path)`,
and `from_params(params, dim)`: the one mapping from params.yaml's `index:` section to an index.

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


def index_spec(index_params: Any, backend: str | None = None) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """`index:` params → (backend, build params, query params). `backend` overrides index.backend and may be a
    faiss alias (faiss-hnsw-flat, faiss-hnsw-sq8). faiss uses index.factory when set, else HNSW{M},Flat."""
    ip = index_params
    name = backend or ip.backend
    if name in FAISS_ALIASES:
        name, factory = "faiss", FAISS_ALIASES[name].format(M=ip.M)
    else:
        factory = ip.factory or f"HNSW{ip.M},Flat"
    if name == "hnswlib":
        return name, {"M": ip.M, "efConstruction": ip.efConstruction}, {"efSearch": ip.efSearch}
    if name == "faiss":
        if "HNSW" in factory:
            return name, {"factory": factory, "efConstruction": ip.efConstruction}, {"efSearch": ip.efSearch}
        return name, {"factory": factory}, {}
    if name not in BACKENDS:
        raise DataError(f"unknown index backend {name!r} (known: {', '.join([*BACKENDS, *FAISS_ALIASES])})")
    return name, {}, {}


def from_params(params: Any, dim: int, backend: str | None = None, metric: str | None = None) -> BaseIndex:
    """A new, empty index configured from params (index.*, seed): what search, the store and tuning use."""
    name, build, query = index_spec(params.index, backend)
    index = make_index(name, dim, metric or params.index.metric, threads=params.index.threads, seed=params.seed,
                       **build)
    return index.set_query_params(**query)


def load_index(path: str | Path) -> BaseIndex:
    """Load a saved index; checksums are verified first (CorruptFileError on mismatch)."""
    path = Path(path)
    manifest = read_manifest(path)
    backend = manifest["backend"]
    if backend not in BACKENDS:
        raise DataError(f"{path}: unknown backend {backend!r} in manifest")
    return BACKENDS[backend]._from_manifest(path, manifest)


__all__ = ["make_index", "from_params", "index_spec", "load_index", "BaseIndex", "LabelFilter", "FilterPolicy", "BACKENDS"]
