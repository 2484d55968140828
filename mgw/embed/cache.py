"""Two caches of embeddings: on disk by content hash (catalog texts, re-runs embed only what changed), and a
small in-memory LRU of query embeddings (a repeated query costs a dict lookup)."""
from __future__ import annotations

import hashlib
import sqlite3
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Callable, Sequence

import numpy as np


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


class QueryEmbeddingLRU:
    """`encode` behind a thread-safe LRU of the last `maxsize` texts: call it like `encode` (list of texts →
    float32 [n, dim]). Misses of one call are embedded together; cached rows are read-only. `encode` stays
    reachable for callers that must measure the uncached cost (the search benchmark)."""

    def __init__(self, encode: Callable[[list[str]], np.ndarray], maxsize: int = 1024):
        self.encode = encode
        self.maxsize = int(maxsize)
        self._store: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        texts = [str(t) for t in texts]
        with self._lock:
            found = {t: self._store[t] for t in texts if t in self._store}
            for t in found:
                self._store.move_to_end(t)
            self.hits += sum(1 for t in texts if t in found)
        todo = list(dict.fromkeys(t for t in texts if t not in found))
        if todo:
            fresh = np.asarray(self.encode(todo), dtype=np.float32)
            with self._lock:
                self.misses += len(todo)
                for t, v in zip(todo, fresh):
                    v = v.copy()
                    v.flags.writeable = False
                    found[t] = self._store[t] = v
                while len(self._store) > self.maxsize:
                    self._store.popitem(last=False)
        return np.stack([found[t] for t in texts]) if texts else np.zeros((0, 0), np.float32)

    def clear(self) -> None:
        with self._lock:
            self._store.clear()

    def __len__(self) -> int:
        return len(self._store)
