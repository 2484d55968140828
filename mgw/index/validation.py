"""Argument checks of the public index API that are the same on every backend: ids, k, query params and the
element type of vector input. Each turns a value a library would misread (a string iterated as ids, 2.5
truncated to 2, a pybind error for efSearch=-1) into a typed error that names the argument; `BaseIndex` calls
them before anything changes."""
from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from mgw.errors import CorruptFileError, DataError

#: query params that must be positive ints; a value of -1 means "library default" where listed
QUERY_PARAM_DEFAULT_SENTINEL = {"search_k": -1}


def as_int(value: Any, what: str, backend: str) -> int:
    """An integral value (Python or numpy int, not bool); 2.5 or "3" are DataErrors, not truncated or parsed."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise DataError(f"{backend}: {what} must be an integer, got {value!r} ({type(value).__name__})")
    return int(value)


def check_k(k: Any, n: int, backend: str) -> int:
    k = as_int(k, "k", backend)
    if k <= 0 or k > n:
        raise DataError(f"{backend}: k must be in 1..{n} (index size), got {k}")
    return k


def id_list(ids: Any, backend: str) -> list[str]:
    """Ids as a list of strings. A bare string or bytes is refused: iterating "ab" would mean ids "a" and "b"."""
    if isinstance(ids, (str, bytes)):
        raise DataError(f"{backend}: ids must be a collection of ids, got the single string {ids!r} "
                        f"(wrap it in a list: [{ids!r}])")
    if isinstance(ids, np.ndarray):
        if ids.ndim != 1:
            raise DataError(f"{backend}: ids must be 1-D, got shape {ids.shape}")
        ids = ids.tolist()
    try:
        return [str(i) for i in ids]
    except TypeError:
        raise DataError(f"{backend}: ids must be an iterable of ids, got {type(ids).__name__}") from None


def check_query_params(kw: dict[str, Any], backend: str) -> dict[str, int]:
    """efSearch / nprobe / search_k / threads as ints ≥ 1 (search_k may also be -1, annoy's default)."""
    out = {}
    for name, value in kw.items():
        v = as_int(value, name, backend)
        if v < 1 and v != QUERY_PARAM_DEFAULT_SENTINEL.get(name):
            allowed = " or -1" if name in QUERY_PARAM_DEFAULT_SENTINEL else ""
            raise DataError(f"{backend}: {name} must be ≥ 1{allowed}, got {v}")
        out[name] = v
    return out


def as_float_array(vectors: Any, what: str, backend: str) -> np.ndarray:
    """Numeric input → float32 array. Strings (which numpy would parse: "0.5" → 0.5), ragged lists and objects
    are DataErrors naming the argument, not a bare ValueError from numpy."""
    if type(vectors) is np.ndarray and vectors.dtype.kind in "fiub":
        return vectors if vectors.dtype == np.float32 else vectors.astype(np.float32)
    if isinstance(vectors, (str, bytes)):
        raise DataError(f"{backend}: {what} must be numbers, got a string")
    try:
        arr = np.asarray(vectors)
    except ValueError as e:  # ragged nested lists
        raise DataError(f"{backend}: {what} must be a rectangular array of numbers ({str(e).splitlines()[0]})") \
            from None
    if arr.dtype.kind not in "fiub":
        kind = "strings" if arr.dtype.kind in "US" else f"{arr.dtype} values"
        raise DataError(f"{backend}: {what} must be numbers, got {kind}")
    return arr.astype(np.float32, copy=False)


def query_ndim(queries: Any, backend: str) -> int:
    """np.ndim without numpy's bare ValueError on ragged input."""
    if type(queries) is np.ndarray:
        return queries.ndim
    try:
        return int(np.ndim(queries))
    except ValueError as e:
        raise DataError(f"{backend}: queries must be a rectangular array of numbers "
                        f"({str(e).splitlines()[0]})") from None


def check_manifest_name(name: Any, manifest: Any) -> str:
    """A file listed in a saved index's manifest: a plain relative path inside the index directory (no `..`,
    no absolute path), so a crafted manifest cannot make load or verify touch files elsewhere."""
    from pathlib import PurePosixPath

    p = PurePosixPath(name) if isinstance(name, str) else None
    if p is None or not name or p.is_absolute() or ".." in p.parts or "\\" in name:
        raise CorruptFileError(f"index manifest {manifest}: {name!r} is not a path inside the index directory")
    return name
