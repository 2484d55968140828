"""Semantic cache keys from the parsed query (issue 7's structure).

Facets — platforms (all/any/none), regions, genres (all/none), type, year, ratings, the user and the
model version — form an exact *bucket*; only the free text may match approximately, by embedding
similarity, and only inside its bucket. So "on Netflix" and "not on Netflix", or US and GB, can never
share an entry: their buckets differ. A facet this module does not know is rejected (it could be a
filter the key would silently ignore).
"""
from __future__ import annotations

import hashlib
import json
import threading
import unicodedata
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from mgw.config import PLATFORMS
from mgw.errors import DataError, UnknownPlatformError

FACETS = ("text", "platforms", "regions", "genres", "type", "year", "ratings")
DERIVED = ("warnings",)  # parser output computed from the facets (contradictions): not part of the key
EmbedFn = Callable[[list[str]], np.ndarray]


def _str_list(value: Any, where: str, case: str = "lower") -> list[str]:
    if value is None:
        return []
    if isinstance(value, str) or not isinstance(value, (list, tuple, set, frozenset)):
        raise DataError(f"parsed query: {where} must be a list of strings, got {value!r}")
    out = set()
    for v in value:
        if not isinstance(v, str) or not v.strip():
            raise DataError(f"parsed query: {where} holds a non-string or empty item {v!r}")
        v = v.strip()
        out.add(v.upper() if case == "upper" else v.lower())
    return sorted(out)


def canonical_facets(parsed: dict[str, Any]) -> dict[str, Any]:
    """The facets of a parsed query in one canonical form (sorted, de-duplicated, cased)."""
    if not isinstance(parsed, dict):
        raise DataError(f"parsed query must be a dict, got {type(parsed).__name__}")
    unknown = set(parsed) - set(FACETS) - set(DERIVED)
    if unknown:
        raise DataError(f"parsed query has unknown facets {sorted(unknown)} (known: {', '.join(FACETS)})")
    plat = parsed.get("platforms") or {}
    if not isinstance(plat, dict) or set(plat) - {"all", "any", "none"}:
        raise DataError(f"parsed query: platforms must be a dict with all/any/none, got {plat!r}")
    platforms = {op: _str_list(plat.get(op), f"platforms.{op}") for op in ("all", "any", "none")}
    for op, names in platforms.items():
        bad = [p for p in names if p not in PLATFORMS]
        if bad:
            raise UnknownPlatformError(f"parsed query: platforms.{op} has unknown platforms {bad} "
                                       f"(known: {', '.join(PLATFORMS)})")
    gen = parsed.get("genres") or {}
    if not isinstance(gen, dict) or set(gen) - {"all", "none"}:
        raise DataError(f"parsed query: genres must be a dict with all/none, got {gen!r}")
    regions = ["GB" if r == "UK" else r for r in _str_list(parsed.get("regions"), "regions", case="upper")]
    typ = parsed.get("type")
    if typ not in (None, "movie", "series"):
        raise DataError(f"parsed query: type must be movie, series or null, got {typ!r}")
    year = parsed.get("year")
    if year is not None:
        if not isinstance(year, dict) or set(year) - {"min", "max"}:
            raise DataError(f"parsed query: year must be {{min, max}} or null, got {year!r}")
        for k in ("min", "max"):
            if year.get(k) is not None and (isinstance(year[k], bool) or not isinstance(year[k], int)):
                raise DataError(f"parsed query: year.{k} must be an int or null, got {year[k]!r}")
        year = {"min": year.get("min"), "max": year.get("max")}
    return {"platforms": platforms, "regions": sorted(set(regions)),
            "genres": {op: _str_list(gen.get(op), f"genres.{op}") for op in ("all", "none")},
            "type": typ, "year": year, "ratings": _str_list(parsed.get("ratings"), "ratings", case="upper")}


def normalize_text(text: Any) -> str:
    if text is None:
        return ""
    if not isinstance(text, str):
        raise DataError(f"parsed query: text must be a string, got {text!r}")
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def _digest(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()).hexdigest()[:32]


@dataclass(frozen=True)
class QueryKey:
    key: str  # the exact cache key
    bucket: str  # facets + user + model + kind: entries may only be shared inside one bucket
    text: str  # normalised free text (what the semantic layer compares)
    tags: tuple[str, ...]  # invalidation tags


def make_key(parsed: dict[str, Any], user: str | None = None, model_version: str = "v0",
             kind: str = "search") -> QueryKey:
    facets = canonical_facets(parsed)
    text = normalize_text(parsed.get("text"))
    who = "anon" if user is None else str(user)
    if not who or ":" in who or "*" in who:
        raise DataError(f"user id must be non-empty without ':' or '*', got {user!r}")
    bucket = f"{kind}:u={who}:m={model_version}:f={_digest(facets)}"
    key = f"{bucket}:t={_digest(text)}"
    plats = sorted({p for names in facets["platforms"].values() for p in names})
    tags = (kind, f"user:{who}", f"model:{model_version}",
            *([f"platform:{p}" for p in plats] or ["platform:unfiltered"]),
            *([f"region:{r}" for r in facets["regions"]] or ["region:unfiltered"]))
    return QueryKey(key=key, bucket=bucket, text=text, tags=tags)


class SemanticIndex:
    """Per-bucket store of (text embedding → exact key). `lookup` returns the most similar earlier text
    of the *same bucket* whose cosine similarity reaches the threshold. Bounded: `max_per_bucket`
    texts per bucket (oldest dropped), `max_buckets` buckets (least recently used dropped)."""

    def __init__(self, threshold: float = 0.95, max_per_bucket: int = 64, max_buckets: int = 10_000):
        if not 0 < threshold <= 1:
            raise DataError(f"semantic threshold must be in (0, 1], got {threshold!r}")
        self.threshold = threshold
        self.max_per_bucket = max_per_bucket
        self.max_buckets = max_buckets
        self._buckets: OrderedDict[str, tuple[list[str], list[np.ndarray]]] = OrderedDict()
        self._lock = threading.Lock()

    def add(self, bucket: str, embedding: np.ndarray, key: str) -> None:
        v = _unit(embedding)
        with self._lock:
            keys, vecs = self._buckets.setdefault(bucket, ([], []))
            self._buckets.move_to_end(bucket)
            if key in keys:
                i = keys.index(key)
                vecs[i] = v
                return
            keys.append(key)
            vecs.append(v)
            if len(keys) > self.max_per_bucket:
                del keys[0], vecs[0]
            while len(self._buckets) > self.max_buckets:
                self._buckets.popitem(last=False)

    def lookup(self, bucket: str, embedding: np.ndarray) -> tuple[str, float] | None:
        with self._lock:
            got = self._buckets.get(bucket)
            if not got or not got[0]:
                return None
            keys, vecs = list(got[0]), np.stack(got[1])
        sims = vecs @ _unit(embedding)
        i = int(np.argmax(sims))
        return (keys[i], float(sims[i])) if sims[i] >= self.threshold else None

    def __len__(self) -> int:
        return sum(len(k) for k, _ in self._buckets.values())


def _unit(v: np.ndarray) -> np.ndarray:
    v = np.asarray(v, dtype=np.float32).ravel()
    n = float(np.linalg.norm(v))
    if not np.isfinite(n) or n == 0:
        raise DataError("embedding must be a finite non-zero vector")
    return v / n
