"""A seeded demo catalog and a word-hashing embedder, so `mgw serve --demo` (and the serving tests and bench)
start without the pipeline's outputs. The titles and synopses come from the simulated source's genre
vocabulary, so a genre word in a query finds that genre's titles; the embedder is a bag of hashed words, not a
language model, and says so in `metadata.model`-free ways: the demo is for exercising the service, not ranking."""
from __future__ import annotations

import hashlib
import re
from typing import Any

import numpy as np
import pandas as pd

from mgw.config import PLATFORMS

DIM = 64
_WORD = re.compile(r"[a-z0-9]+")


def _word_vec(word: str) -> np.ndarray:
    seed = int.from_bytes(hashlib.sha256(word.encode()).digest()[:8], "little")
    return np.random.default_rng(seed).standard_normal(DIM)


class HashingEmbedder:
    """text → unit-norm sum of per-word seeded Gaussian vectors (memoised per word)."""

    def __init__(self) -> None:
        self._memo: dict[str, np.ndarray] = {}

    def _vec(self, word: str) -> np.ndarray:
        v = self._memo.get(word)
        if v is None:
            v = self._memo[word] = _word_vec(word)
        return v

    def __call__(self, texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), DIM))
        for i, t in enumerate(texts):
            for w in _WORD.findall(t.lower()):
                out[i] += self._vec(w)
        out += 1e-6
        return (out / np.linalg.norm(out, axis=1, keepdims=True)).astype(np.float32)


def demo_catalog(n: int, seed: int) -> pd.DataFrame:
    """n canonical titles with genre-specific titles and synopses, 1–2 platforms each."""
    from mgw.data.connectors.simulated import VOCAB, _work

    rng = np.random.default_rng(seed)
    genres = sorted(VOCAB)
    rows: list[dict[str, Any]] = []
    for i in range(n):
        w = _work(rng, genres[i % len(genres)], i)
        k = 1 + int(rng.random() < 0.3)
        rows.append({"entity_id": f"demo:{i}", "title": w["title"], "description": w["description"],
                     "type": "series" if w["type"] == "TV Show" else "movie", "release_year": w["year"],
                     "rating": w["rating"], "genres": list(w["genres"]), "countries": [],
                     "platforms": sorted({str(p) for p in rng.choice(PLATFORMS, k, replace=False)})})
    return pd.DataFrame(rows)


def demo_pipeline(params: Any, n: int, reranker: Any = None):
    """The SearchPipeline over `demo_catalog(n)` with the exact index and the hashing embedder."""
    from mgw.hypergraph.availability import make_availability
    from mgw.hypergraph.store import HypergraphStore
    from mgw.index import make_index
    from mgw.search.pipeline import SearchPipeline
    from mgw.search.rerankers import UtilityReranker

    cat = demo_catalog(n, params.seed)
    hp = params.hypergraph
    rows = make_availability(hp.regions, hp.home_bonus, params.seed, None).rows(cat)
    store = HypergraphStore.from_catalog(cat, rows, hp.regions)  # (not hypergraph.bench: it imports XGI)
    embed = HashingEmbedder()
    index = make_index("exact", DIM, "cosine")
    index.build(embed([f"{t} {d} {' '.join(g)}" for t, d, g in zip(cat.title, cat.description, cat.genres)]),
                list(cat.entity_id))
    return SearchPipeline(cat, store, index, embed, reranker or UtilityReranker(store),
                          params.search.candidates, params.search.k)
