"""The inputs of one scaling point: a seeded catalog of n titles and n vectors, without an n-text embedding run.

- Metadata: the simulated source (`data/connectors/simulated.py`) with `contentCount` scaled so the catalog
  has about n titles (listings = n × (1 + duplicateRate), platform shares as in params).
- Vectors: `bench.datasets.SynthGenerator` fitted on the real catalog embeddings (PCA-64 + 32-component
  Gaussian mixture + residual noise; the documented default spectrum when no embeddings exist), saved once as
  a plain .npz so every child process samples from the same fit.
- `TokenHashEmbedder`: what resolution's synopsis comparison gets at scale instead of MiniLM (whose cost is
  the embedding stage's, measured separately): hashed word counts → a seeded sparse random projection to 384
  dims. Texts that share words get similar vectors, so duplicates still look alike; it costs milliseconds.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from mgw.bench.datasets import SynthGenerator, normalize
from mgw.config import ROOT, Params
from mgw.errors import DataError

GENERATOR_FIELDS = ("mean", "components", "gmm_means", "gmm_vars", "weights", "residual_std")


def catalog_params(params: Params, n_titles: int) -> Params:
    """`params` with the simulated source sized to about `n_titles` canonical titles (same platform shares)."""
    if n_titles < 100:
        raise DataError(f"a scaling catalog needs at least 100 titles, got {n_titles}")
    counts = params.simulated.contentCount
    total = sum(counts.values())
    if total <= 0:
        raise DataError("simulated.contentCount must list at least one title")
    listings = n_titles * (1 + params.simulated.duplicateRate)
    scaled = {p: max(1, int(round(listings * c / total))) for p, c in counts.items() if c > 0}
    return params.model_copy(update={"data": params.data.model_copy(update={"source": "simulated"}),
                                     "simulated": params.simulated.model_copy(update={"contentCount": scaled})})


def fit_generator(embeddings: str | Path | None, seed: int, dim: int = 384) -> tuple[SynthGenerator, dict[str, Any]]:
    """The vector generator and where it came from (fitted on `embeddings` when that file exists)."""
    path = Path(embeddings) if embeddings else None
    if path is not None and not path.is_absolute():
        path = ROOT / path
    if path is not None and path.exists():
        x = normalize(np.load(path, allow_pickle=False))
        return SynthGenerator.fit(x, seed), {"generator": "pca64+gmm32-diag, fit", "fitted_on": str(path),
                                             "fitted_rows": int(len(x))}
    return SynthGenerator.default(dim, seed), {"generator": "default power-law mixture", "fitted_on": None}


def save_generator(gen: SynthGenerator, path: str | Path) -> Path:
    """Plain arrays (no pickle), so children load it safely."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, **{f: np.asarray(getattr(gen, f)) for f in GENERATOR_FIELDS})
    return path


def load_generator(path: str | Path) -> SynthGenerator:
    with np.load(path, allow_pickle=False) as z:
        arrays = {f: z[f] for f in GENERATOR_FIELDS}
    arrays["residual_std"] = float(arrays["residual_std"])
    return SynthGenerator(**arrays, source="file")


def vectors(generator: str | Path, n: int, seed: int) -> np.ndarray:
    """n unit-norm float32 vectors; a different `seed` gives an independent set (queries)."""
    return load_generator(generator).sample(n, seed)


class TokenHashEmbedder:
    """Hashed word counts → seeded sparse random projection → unit vectors (see module doc). `encode` only."""

    def __init__(self, dim: int = 384, seed: int = 42, n_features: int = 2 ** 18):
        import scipy.sparse as sp
        from sklearn.feature_extraction.text import HashingVectorizer
        from sklearn.random_projection import SparseRandomProjection

        self.dim = dim
        self._hash = HashingVectorizer(n_features=n_features, alternate_sign=False, norm="l2")
        self._proj = SparseRandomProjection(dim, random_state=seed).fit(sp.csr_matrix((1, n_features)))
        self.last_stats: dict[str, Any] = {}

    def encode(self, texts: list[str]) -> np.ndarray:
        if not len(texts):
            return np.zeros((0, self.dim), dtype=np.float32)
        x = self._proj.transform(self._hash.transform(list(texts)))
        x = np.asarray(x.todense() if hasattr(x, "todense") else x, dtype=np.float32)
        self.last_stats = {"texts": len(texts), "embedder": "token-hash stand-in"}
        return normalize(x)
