"""One index interface over several ANN libraries (ann-benchmarks' BaseANN is the model).

`BaseIndex` owns everything that must behave the same on every backend: input validation,
external string id ↔ internal int label mapping, cosine normalization (done once, vectors are
stored unit-norm and searched by inner product), score conventions, filtered search dispatch,
and save/load with a checksummed manifest. An adapter subclass only talks to its library through
a handful of `_native_*` hooks, so adding a backend is one small module (see docs/index-bench.md).

Score conventions (same on every backend):
- metric "cosine": cosine similarity in [-1, 1], higher is better;
- metric "ip": inner product, higher is better;
- metric "l2": Euclidean distance (not squared), lower is better.
Results are ordered best first.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from mgw.errors import (CorruptFileError, DataError, DimensionError, DuplicateIdError, NotSupportedError,
                        UnknownIdError)
from mgw.index.validation import as_float_array, check_k, check_manifest_name, check_query_params, id_list
from mgw.reporting import sha256_file

METRICS = ("cosine", "ip", "l2")
UNIT_TOLERANCE = 1e-5  # |‖v‖² − 1| below this counts as unit-norm (float32 rounding of a normalized vector)
UNIT_LOW, UNIT_HIGH = 1.0 - UNIT_TOLERANCE, 1.0 + UNIT_TOLERANCE
F32 = np.dtype(np.float32)
MANIFEST = "manifest.json"
FORMAT_VERSION = 1


class LabelFilter:
    """A filter compiled to internal labels once; pass it to `search(filter=...)` to avoid re-mapping
    string ids on every call (use `index.make_filter(ids)`)."""

    def __init__(self, labels: np.ndarray, generation: int, unique: bool = False):
        labels = np.asarray(labels, dtype=np.int64)
        self.labels = labels if unique else np.unique(labels)
        self.generation = generation  # index mutation counter at compile time
        self.vectors: np.ndarray | None = None  # stored vectors of `labels`, cached by brute-force search

    def __len__(self) -> int:
        return int(self.labels.size)


class BaseIndex:
    """Common behaviour of all backends. Subclasses set `backend`, `supports` and implement the hooks."""

    backend = "base"
    #: which mutations / filter modes the library allows; see `capabilities()`
    supports: dict[str, bool] = {"add": True, "remove": False, "update": False, "in_graph_filter": False}
    #: names accepted by set_query_params
    query_param_names: tuple[str, ...] = ()

    def __init__(self, dim: int, metric: str = "cosine", threads: int = 2, seed: int = 42, **build_params: Any):
        if int(dim) <= 0:
            raise DataError(f"{self.backend}: dim must be positive, got {dim}")
        if metric not in METRICS:
            raise DataError(f"{self.backend}: unknown metric {metric!r} (known: {', '.join(METRICS)})")
        self.dim = int(dim)
        self.metric = metric
        self.threads = int(threads)
        self.seed = int(seed)
        self.build_params = dict(build_params)
        self.query_params: dict[str, Any] = {}
        self._id_buf = np.empty(0, dtype=object)  # label → external id (None once removed); grows ×2
        self._ids = self._id_buf[:0]  # the used part of _id_buf (a view)
        self._label_of: dict[str, int] = {}  # external id → label
        self._built = False
        self._generation = 0
        self._data_hash = hashlib.sha256(f"{self.backend}:{dim}:{metric}".encode()).hexdigest()
        self._check_build_params()

    # ------------------------------------------------------------------ hooks for adapters
    def _check_build_params(self) -> None:
        """Validate build params at construction (scikit-learn style: fail early, store as given)."""

    def _native_build(self, vectors: np.ndarray, labels: np.ndarray) -> None:
        raise NotImplementedError

    def _native_add(self, vectors: np.ndarray, labels: np.ndarray) -> None:
        raise NotSupportedError(f"{self.backend}: add is not supported")

    def _native_remove(self, labels: np.ndarray) -> None:
        raise NotSupportedError(f"{self.backend}: remove is not supported")

    def _native_update(self, vectors: np.ndarray, labels: np.ndarray) -> None:
        raise NotSupportedError(f"{self.backend}: update is not supported")

    def _native_search(self, queries: np.ndarray, k: int, labels: np.ndarray | None = None,
                       threads: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(labels int64 [nq,k] with -1 for missing, raw library scores [nq,k]). With `labels`, search only
        those (in-graph filter; only called when supports['in_graph_filter'])."""
        raise NotImplementedError

    def _to_score(self, raw: np.ndarray) -> np.ndarray:
        """Library score → mgw score convention (see module docstring)."""
        return raw

    def _native_vectors(self, labels: np.ndarray) -> np.ndarray:
        """Stored (normalized) vectors of these labels, for brute force over a filtered subset."""
        raise NotImplementedError

    def _native_save(self, directory: Path) -> list[str]:
        """Write native files into `directory`; return their names."""
        raise NotImplementedError

    def _native_load(self, directory: Path, files: list[str]) -> None:
        raise NotImplementedError

    def _native_apply_query_params(self) -> None:
        """Push self.query_params to the library object."""

    # ------------------------------------------------------------------ validation helpers
    def _check_vectors(self, vectors: Any, what: str = "vectors") -> np.ndarray:
        """float32 C-contiguous [n, dim], finite, unit-norm for cosine. Finiteness is checked on the
        squared norms (NaN/inf anywhere makes them non-finite): one reduction, cheap on the query path.
        Rows that are already unit-norm are not copied."""
        x = as_float_array(vectors, what, self.backend)
        if x.ndim == 1:
            x = x[None, :]
        if x.ndim != 2:
            raise DimensionError(f"{self.backend}: {what} must be 1-D or 2-D, got shape {x.shape}")
        if x.shape[1] != self.dim:
            raise DimensionError(f"{self.backend}: {what} have dimension {x.shape[1]}, index has {self.dim}")
        sq = np.einsum("ij,ij->i", x, x)
        if not np.isfinite(sq).all():
            raise DataError(f"{self.backend}: {what} contain NaN or inf (or overflow float32)")
        if self.metric == "cosine":
            if not sq.all():
                raise DataError(f"{self.backend}: zero vector cannot be used with metric cosine")
            if sq.size and np.abs(sq - 1.0).max() > UNIT_TOLERANCE:
                x = x * (1.0 / np.sqrt(sq))[:, None]
        return x if x.flags.c_contiguous else np.ascontiguousarray(x)

    def _fast_query(self, v: np.ndarray) -> np.ndarray | None:
        """Hot path for one well-formed float32 query: one dot product checks finiteness and gives the norm,
        and a query that is already unit-norm is used as it is (a view, no copy). None sends anything unusual
        through _check_vectors, which raises the proper error."""
        if v.dtype != np.float32 or v.shape != (self.dim,) or not v.flags.c_contiguous:
            return None
        sq = float(v @ v)
        if not math.isfinite(sq) or sq == 0.0:
            return None
        if self.metric == "cosine" and abs(sq - 1.0) > UNIT_TOLERANCE:
            return (v * (1.0 / math.sqrt(sq)))[None, :]
        return v[None, :]

    def _query_matrix(self, queries: Any) -> tuple[np.ndarray, bool]:
        """(validated [nq, dim] queries, whether the caller passed a single 1-D query)."""
        if type(queries) is np.ndarray and queries.ndim == 1:
            q = self._fast_query(queries)
            if q is not None:
                return q, True
        x = as_float_array(queries, "queries", self.backend)
        return self._check_vectors(x, "queries"), x.ndim == 1

    def _check_new_ids(self, ids: Any, n: int) -> list[str]:
        ids = id_list(ids, self.backend)
        if len(ids) != n:
            raise DataError(f"{self.backend}: got {n} vectors but {len(ids)} ids")
        if len(set(ids)) != len(ids):
            seen: set[str] = set()
            dup = next(i for i in ids if i in seen or seen.add(i))
            raise DuplicateIdError(f"{self.backend}: id {dup!r} given more than once")
        clash = [i for i in ids if i in self._label_of]
        if clash:
            raise DuplicateIdError(f"{self.backend}: id {clash[0]!r} already in the index "
                                   f"({len(clash)} clashing ids); use update()")
        return ids

    def _labels_of(self, ids: list[str]) -> np.ndarray:
        """Labels of existing, distinct ids (UnknownIdError / DuplicateIdError otherwise)."""
        labels = self.labels_for(ids)
        if labels.size and labels.min() < 0:
            missing = [i for i, lab in zip(ids, labels.tolist()) if lab < 0]
            raise UnknownIdError(f"{self.backend}: unknown id {missing[0]!r} ({len(missing)} unknown)")
        if np.unique(labels).size != labels.size:
            raise DuplicateIdError(f"{self.backend}: ids must be unique")
        return labels

    def _assign(self, ids: list[str]) -> np.ndarray:
        """Next labels for new ids; the label → id buffer grows geometrically (no copy per add)."""
        start, end = self._ids.size, self._ids.size + len(ids)
        if end > self._id_buf.size:
            buf = np.empty(max(end, 2 * self._id_buf.size, 16), dtype=object)
            buf[:start] = self._ids
            self._id_buf = buf
        self._id_buf[start:end] = ids
        self._ids = self._id_buf[:end]
        labels = np.arange(start, end, dtype=np.int64)
        self._label_of.update(zip(ids, range(start, end)))
        return labels

    def _unassign(self, ids: list[str], start: int) -> None:
        """Undo `_assign` after the library refused the new vectors."""
        for i in ids:
            self._label_of.pop(i, None)
        self._id_buf[start:self._ids.size] = None
        self._ids = self._id_buf[:start]

    def _set_ids(self, ids: list[Any]) -> None:
        """Replace the whole label → id table (build, load); None marks a removed label."""
        self._id_buf = np.empty(len(ids), dtype=object)
        self._id_buf[:] = ids
        self._ids = self._id_buf[:]
        self._label_of = {i: lab for lab, i in enumerate(ids) if i is not None}

    def _mix_hash(self, op: str, payload: bytes) -> None:
        self._data_hash = hashlib.sha256(self._data_hash.encode() + op.encode() + payload).hexdigest()
        self._generation += 1

    # ------------------------------------------------------------------ public API
    def build(self, vectors: Any, ids: Iterable[Any]) -> "BaseIndex":
        """Index `vectors` under external `ids` (replaces any previous content)."""
        x = self._check_vectors(vectors)
        if x.shape[0] == 0:
            raise DataError(f"{self.backend}: build needs at least one vector")
        self._set_ids([])
        ids = self._check_new_ids(ids, x.shape[0])
        labels = self._assign(ids)
        try:
            self._native_build(x, labels)
        except BaseException:
            self._set_ids([])
            self._built = False
            raise
        self._built = True
        self._mix_hash("build", x.tobytes() + "\x00".join(ids).encode())
        self._native_apply_query_params()
        return self

    def add(self, vectors: Any, ids: Iterable[Any]) -> None:
        """Add new vectors; ids must not exist yet (DuplicateIdError)."""
        if not self._built:
            self.build(vectors, ids)
            return
        if not self.supports["add"]:
            raise NotSupportedError(f"{self.backend}: add after build is not supported by the library; "
                                    f"rebuild with build()")
        x = self._check_vectors(vectors)
        ids = self._check_new_ids(ids, x.shape[0])
        if not ids:
            return
        start = self._ids.size
        labels = self._assign(ids)
        try:
            self._native_add(x, labels)
        except BaseException:
            self._unassign(ids, start)
            raise
        self._mix_hash("add", x.tobytes() + "\x00".join(ids).encode())

    def remove(self, ids: Iterable[Any]) -> None:
        """Remove ids (UnknownIdError if any is absent; nothing is removed then)."""
        if not self.supports["remove"]:
            raise NotSupportedError(f"{self.backend}: remove is not supported by this library/index type "
                                    f"({self.describe()})")
        ids = id_list(ids, self.backend)
        labels = self._labels_of(ids)
        if labels.size == 0:
            return
        self._native_remove(labels)
        for i in ids:
            del self._label_of[i]
        self._ids[labels] = None
        self._mix_hash("remove", "\x00".join(ids).encode())

    def update(self, vectors: Any, ids: Iterable[Any]) -> None:
        """Replace the vectors of existing ids (UnknownIdError if any is absent)."""
        if not self.supports["update"]:
            raise NotSupportedError(f"{self.backend}: update is not supported by this library/index type "
                                    f"({self.describe()})")
        x = self._check_vectors(vectors)
        ids = id_list(ids, self.backend)
        if len(ids) != x.shape[0]:
            raise DataError(f"{self.backend}: got {x.shape[0]} vectors but {len(ids)} ids")
        labels = self._labels_of(ids)
        self._native_update(x, labels)
        self._mix_hash("update", x.tobytes() + "\x00".join(ids).encode())

    def set_query_params(self, **kw: Any) -> "BaseIndex":
        """Search-time knobs (efSearch / search_k / nprobe / threads); one build serves a sweep."""
        unknown = set(kw) - set(self.query_param_names) - {"threads"}
        if unknown:
            raise DataError(f"{self.backend}: unknown query params {sorted(unknown)} "
                            f"(known: {', '.join(self.query_param_names + ('threads',))})")
        kw = check_query_params(kw, self.backend)
        if "threads" in kw:
            self.threads = kw.pop("threads")
        self.query_params.update(kw)
        if self._built:
            self._native_apply_query_params()
        return self

    # ------------------------------------------------------------------ ids ↔ labels (for callers that cache)
    @property
    def generation(self) -> int:
        """Mutation counter: labels and compiled filters taken at another generation may be stale."""
        return self._generation

    def labels_for(self, ids: Iterable[Any]) -> np.ndarray:
        """Internal labels (int64) of external ids, -1 for ids not in the index. Callers that search the same
        id sets often map them once and pass `label_filter(labels)` per search."""
        get = self._label_of.get
        ids = id_list(ids, self.backend)
        return np.fromiter((get(i, -1) for i in ids), dtype=np.int64, count=len(ids))

    def label_filter(self, labels: np.ndarray, unique: bool = False) -> LabelFilter:
        """A compiled filter from labels taken at the current generation (`unique=True`: the caller
        guarantees no repeats, which skips a sort)."""
        return LabelFilter(labels, self._generation, unique=unique)

    def make_filter(self, allowed: Any) -> LabelFilter:
        """Compile an allowed-id set (or callable id→bool) to labels once, for repeated searches.
        Unknown ids in a set are ignored (they cannot match)."""
        if isinstance(allowed, LabelFilter):
            return allowed
        if callable(allowed):
            live = np.flatnonzero(self._ids != None)  # noqa: E711  (object array comparison)
            labels = [lab for lab in live.tolist() if allowed(self._ids[lab])]
            return LabelFilter(np.asarray(labels, dtype=np.int64), self._generation)
        if isinstance(allowed, (str, bytes)):
            raise DataError(f"{self.backend}: filter must be a collection of ids or a callable, got a string")
        labels = self.labels_for(allowed)
        return LabelFilter(labels[labels >= 0], self._generation)

    def search(self, queries: Any, k: int, filter: Any = None) -> tuple[np.ndarray, np.ndarray]:
        """k nearest neighbours. 1-D query → (ids[k], scores[k]); 2-D → (ids[nq,k], scores[nq,k]).

        `filter`: an iterable/set of allowed external ids, a callable id→bool (evaluated once per live id
        per call), or a `make_filter()` / `label_filter()` result. With a filter, fewer than k results come
        back only when fewer than k ids match: 1-D results are then shorter, 2-D rows are padded with id None
        and score NaN.

        The unfiltered paths are kept lean on purpose (the benchmark compares them with the raw library call):
        one validation pass, one library call for the whole batch, one gather from the label → id array."""
        if filter is None and type(k) is int and type(queries) is np.ndarray and queries.ndim == 1:
            hit = self._search_one(queries, k)
            if hit is not None:
                return hit
        q, single = self._query_matrix(queries)
        n = len(self._label_of)
        if n == 0:
            raise DataError(f"{self.backend}: search on an empty index")
        if type(k) is not int or not 0 < k <= n:
            k = check_k(k, n, self.backend)
        if filter is None:
            labels, raw = self._native_search(q, k)
            scores = self._to_score(raw)
            if labels.dtype != np.uint64 and labels[:, -1].min() < 0:  # fewer than k came back (padding is last)
                from mgw.index.filtered import fill_missing

                labels, scores = fill_missing(self, q, k, labels, scores, None)
        else:
            from mgw.index.filtered import filtered_search

            labels, scores = filtered_search(self, q, k, self.make_filter(filter))
        if labels.dtype == np.uint64 or labels[:, -1].min() >= 0:  # no padding: plain gather
            ids = self._ids[labels]
            return (ids[0], scores[0]) if single else (ids, scores)
        ids = self._map_ids(labels)
        if single:
            keep = labels[0] >= 0
            return ids[0][keep], scores[0][keep]
        return ids, scores

    def _search_one(self, v: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray] | None:
        """The single-query fast path: a well-formed float32 query, a valid k, a full result. It returns None
        for anything else (wrong dtype/shape, NaN, zero norm, bad k, fewer than k found), and the general path
        then raises the proper error or completes the result."""
        if v.dtype is not F32 or v.shape[0] != self.dim or not 0 < k <= len(self._label_of) \
                or not v.flags.c_contiguous:
            return None
        sq = float(v.dot(v))
        if not UNIT_LOW <= sq <= UNIT_HIGH:  # not unit-norm: finite and non-zero?
            if not math.isfinite(sq) or sq == 0.0:
                return None
            if self.metric == "cosine":
                v = v * (1.0 / math.sqrt(sq))
        hit = self._native_search_one(v, k)
        if hit is None:  # fewer than k came back
            return None
        return self._ids.take(hit[0]), hit[1]

    def _native_search_one(self, v: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray] | None:
        """One query [dim] → (labels [k], mgw scores [k]), or None when fewer than k came back (the general
        path then pads or completes). Adapters override it to call the library's single-query entry directly."""
        labels, raw = self._native_search(v[None, :], k)
        if labels[0, -1] < 0:
            return None
        return labels[0], self._to_score(raw)[0]

    def _map_ids(self, labels: np.ndarray) -> np.ndarray:
        labels = np.asarray(labels, dtype=np.int64)
        out = np.empty(labels.shape, dtype=object)
        ok = labels >= 0
        out[ok] = self._ids[labels[ok]]
        return out

    def _exact_scores(self, q: np.ndarray, x: np.ndarray) -> np.ndarray:
        """mgw scores between normalized queries q and stored vectors x (brute force)."""
        # one query: x @ q.T is a gemv (q @ x.T takes a slower BLAS path); a batch: q @ x.T gives C-ordered rows,
        # which the per-row top-k then reads contiguously (the transposed view cost ~20 % of batch throughput)
        ip = (x @ q.T).T if len(q) == 1 else q @ x.T
        if self.metric == "l2":
            d2 = (q * q).sum(1)[:, None] - 2 * ip + (x * x).sum(1)[None, :]
            return np.sqrt(np.maximum(d2, 0))
        return ip

    @property
    def higher_is_better(self) -> bool:
        return self.metric != "l2"

    def __len__(self) -> int:
        return len(self._label_of)

    def ids(self) -> list[str]:
        """Live external ids in insertion order."""
        return [i for i in self._ids.tolist() if i is not None]

    def describe(self) -> str:
        params = ",".join(f"{k}={v}" for k, v in sorted(self.build_params.items()))
        return f"{self.backend}({params})"

    def capabilities(self) -> dict[str, Any]:
        return {"backend": self.backend, **self.supports, "metrics": list(METRICS),
                "query_params": list(self.query_param_names), "filter": ["ids", "callable", "LabelFilter"],
                "persist": "native+manifest"}

    def stats(self) -> dict[str, Any]:
        """count, serialized bytes (native files, measured by saving to a temp dir), bytes per vector."""
        with tempfile.TemporaryDirectory() as tmp:
            files = self._native_save(Path(tmp)) if self._built else []
            size = sum((Path(tmp) / f).stat().st_size for f in files)
        n = len(self)
        return {"backend": self.backend, "count": n, "dim": self.dim, "metric": self.metric,
                "serialized_bytes": size, "bytes_per_vector": (size / n) if n else None,
                "build_params": dict(self.build_params), "query_params": dict(self.query_params)}

    # ------------------------------------------------------------------ persistence
    def save(self, path: str | Path) -> Path:
        """Directory with native files + ids.json + manifest.json (sha256 of every file, params, data hash).
        Written to a temp dir and renamed, so a crash never leaves a half index under `path`."""
        if not self._built:
            raise DataError(f"{self.backend}: nothing to save, index is empty")
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}."))
        try:
            files = self._native_save(tmp)
            (tmp / "ids.json").write_text(json.dumps(self._ids.tolist()))
            files = list(files) + ["ids.json"]
            manifest = {"format_version": FORMAT_VERSION, "backend": self.backend, "dim": self.dim,
                        "metric": self.metric, "threads": self.threads, "seed": self.seed,
                        "build_params": self.build_params, "query_params": self.query_params,
                        "count": len(self), "data_hash": self._data_hash,
                        "files": {f: sha256_file(tmp / f) for f in files},
                        "bytes": {f: (tmp / f).stat().st_size for f in files}}
            (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2))
            if path.exists():
                shutil.rmtree(path)
            os.replace(tmp, path)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return path

    @classmethod
    def _from_manifest(cls, path: Path, manifest: dict[str, Any]) -> "BaseIndex":
        index = cls(manifest["dim"], manifest["metric"], threads=manifest.get("threads", 2),
                    seed=manifest.get("seed", 42), **manifest["build_params"])
        files = [f for f in manifest["files"] if f != "ids.json"]
        try:
            index._set_ids(json.loads((path / "ids.json").read_text()))
            index._native_load(path, files)
        except (ValueError, RuntimeError, OSError) as e:
            raise CorruptFileError(f"{cls.backend}: cannot load index from {path}: {e}") from e
        index._built = True
        index._data_hash = manifest["data_hash"]
        index.query_params = dict(manifest.get("query_params") or {})
        index._native_apply_query_params()
        return index




def read_manifest(path: str | Path) -> dict[str, Any]:
    """Manifest of a saved index, with every file's checksum verified (CorruptFileError otherwise)."""
    path = Path(path)
    mf = path / MANIFEST
    if not mf.exists():
        raise FileNotFoundError(f"no index manifest at {mf}")
    try:
        manifest = json.loads(mf.read_text())
        files = manifest["files"]
        backend = manifest["backend"]
    except (ValueError, KeyError, TypeError) as e:
        raise CorruptFileError(f"index manifest {mf} is unreadable: {e}") from e
    if not isinstance(files, dict):
        raise CorruptFileError(f"index manifest {mf}: 'files' must map file names to sha256")
    for name, digest in files.items():
        check_manifest_name(name, mf)
        f = path / name
        if not f.exists():
            raise CorruptFileError(f"{backend}: index file {f} listed in the manifest is missing")
        if sha256_file(f) != digest:
            raise CorruptFileError(f"{backend}: checksum of {f} does not match the manifest "
                                   f"(truncated or modified file)")
    return manifest

