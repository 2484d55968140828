"""Benchmark datasets in ann-benchmarks HDF5 format (train, test, neighbors, distances; attrs distance,
dimension), cached under data/interim/bench/.

- `catalog-minilm-384`: the catalog's MiniLM embeddings (an embeddings.npy path), with a seeded
  hold-out of `queries` rows as the test set.
- `synth-<N>` (synth-20k, synth-100k, synth-1m): seeded generator matched to real embeddings: PCA
  (64 components) + a 32-component diagonal Gaussian mixture fitted on the embeddings, plus isotropic
  residual noise with the variance the PCA leaves out, then unit-normalized. Without embeddings the
  documented default generator is used: 32 random cluster centres in a random 48-dim subspace with a
  power-law spectrum (variance ∝ i^-1.5), isotropic noise (std 0.02), unit-normalized.
Ground truth: exact top-100 by cosine, stored as angular distance 1 − cos (ann-benchmarks convention).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from mgw.config import ROOT
from mgw.errors import CorruptFileError, DataError
from mgw.reporting import sha256_file

BENCH_DIR = ROOT / "data" / "interim" / "bench"
CATALOG = "catalog-minilm-384"
GT_K = 100
FORMAT = 1


@dataclass
class Dataset:
    name: str
    train: np.ndarray
    test: np.ndarray
    neighbors: np.ndarray
    distances: np.ndarray
    distance: str = "angular"
    attrs: dict[str, Any] = field(default_factory=dict)

    @property
    def metric(self) -> str:
        """mgw.index metric for this dataset's distance."""
        return {"angular": "cosine", "euclidean": "l2", "ip": "ip"}[self.distance]

    @property
    def dim(self) -> int:
        return int(self.train.shape[1])


def parse_synth_size(name: str) -> int | None:
    """'synth-100k' → 100000, 'synth-1m' → 1000000, 'synth-5000' → 5000; None if not a synth name."""
    m = re.fullmatch(r"synth-(\d+)([km]?)", name.lower())
    if not m:
        return None
    return int(m.group(1)) * {"": 1, "k": 1000, "m": 1_000_000}[m.group(2)]


def synth_name(n: int) -> str:
    if n % 1_000_000 == 0:
        return f"synth-{n // 1_000_000}m"
    return f"synth-{n // 1000}k" if n % 1000 == 0 else f"synth-{n}"




def normalize(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def ground_truth(train: np.ndarray, test: np.ndarray, k: int = GT_K, chunk: int = 256) -> tuple[np.ndarray, np.ndarray]:
    """Exact top-k by cosine (inputs unit-norm): (neighbors int32 [nq,k], angular distances 1 − cos)."""
    from tqdm.auto import tqdm

    k = min(k, len(train))
    nb = np.empty((len(test), k), dtype=np.int32)
    dist = np.empty((len(test), k), dtype=np.float32)
    for s in tqdm(range(0, len(test), chunk), desc="ground truth", leave=False, disable=len(test) <= chunk):
        sims = test[s:s + chunk] @ train.T
        part = np.argpartition(-sims, k - 1, axis=1)[:, :k]
        order = np.argsort(-np.take_along_axis(sims, part, 1), axis=1, kind="stable")
        idx = np.take_along_axis(part, order, 1)
        nb[s:s + chunk] = idx
        dist[s:s + chunk] = 1.0 - np.take_along_axis(sims, idx, 1)
    return nb, dist


# --------------------------------------------------------------------------- synthetic generator
class SynthGenerator:
    """PCA + Gaussian mixture fitted on real embeddings (or the default spectrum), see module doc."""

    def __init__(self, mean, components, gmm_means, gmm_vars, weights, residual_std, source: str):
        self.mean, self.components = mean, components
        self.gmm_means, self.gmm_vars, self.weights = gmm_means, gmm_vars, weights
        self.residual_std, self.source = residual_std, source

    @classmethod
    def fit(cls, embeddings: np.ndarray, seed: int, n_pca: int = 64, n_mix: int = 32) -> "SynthGenerator":
        from sklearn.decomposition import PCA
        from sklearn.mixture import GaussianMixture

        x = np.asarray(embeddings, dtype=np.float64)
        n_pca = min(n_pca, x.shape[0] - 1, x.shape[1])
        pca = PCA(n_components=n_pca, random_state=seed).fit(x)
        z = pca.transform(x)
        gmm = GaussianMixture(n_components=min(n_mix, max(1, len(x) // 20)), covariance_type="diag",
                              random_state=seed, max_iter=200).fit(z)
        total_var = x.var(axis=0).sum()
        residual = max(total_var - pca.explained_variance_.sum(), 0.0) / x.shape[1]
        return cls(pca.mean_, pca.components_, gmm.means_, gmm.covariances_, gmm.weights_, np.sqrt(residual),
                   source="fit")

    @classmethod
    def default(cls, dim: int, seed: int, n_sub: int = 48, n_mix: int = 32) -> "SynthGenerator":
        """Hand-calibrated so RC@10 ≈ 2.2 and LID@10 ≈ 22 at 5k points (VIBE MiniLM: 2.24 / 14.5)."""
        rng = np.random.default_rng(seed)
        basis, _ = np.linalg.qr(rng.standard_normal((dim, n_sub)))
        spectrum = 1.0 / np.arange(1, n_sub + 1) ** 1.5
        means = rng.standard_normal((n_mix, n_sub)) * np.sqrt(spectrum) * 0.8
        variances = np.tile(spectrum * 0.4, (n_mix, 1))
        return cls(np.zeros(dim), basis.T, means, variances, np.full(n_mix, 1 / n_mix), 0.02, source="default")

    def sample(self, n: int, seed: int, chunk: int = 100_000) -> np.ndarray:
        rng = np.random.default_rng(seed)
        out = np.empty((n, self.components.shape[1]), dtype=np.float32)
        for s in range(0, n, chunk):
            m = min(chunk, n - s)
            comp = rng.choice(len(self.weights), m, p=self.weights / self.weights.sum())
            z = self.gmm_means[comp] + rng.standard_normal((m, self.gmm_means.shape[1])) * np.sqrt(self.gmm_vars[comp])
            x = self.mean + z @ self.components + rng.standard_normal((m, self.components.shape[1])) * self.residual_std
            out[s:s + m] = normalize(x)
        return out


# --------------------------------------------------------------------------- HDF5 io
def write_hdf5(path: Path, ds: Dataset) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.hdf5")
    with h5py.File(tmp, "w") as f:
        f.attrs["distance"] = ds.distance
        f.attrs["dimension"] = ds.dim
        f.attrs["type"] = "dense"
        for key, value in ds.attrs.items():
            f.attrs[key] = value
        for key in ("train", "test", "neighbors", "distances"):
            f.create_dataset(key, data=getattr(ds, key))
    tmp.replace(path)
    return path


def read_hdf5(path: Path, name: str | None = None) -> Dataset:
    try:
        with h5py.File(path, "r") as f:
            attrs = {k: (v.item() if hasattr(v, "item") else v) for k, v in f.attrs.items()}
            arrays = {k: f[k][()] for k in ("train", "test", "neighbors", "distances")}
    except (OSError, KeyError) as e:
        raise CorruptFileError(f"benchmark dataset {path} is unreadable: {e}") from e
    return Dataset(name or path.stem, arrays["train"].astype(np.float32), arrays["test"].astype(np.float32),
                   arrays["neighbors"], arrays["distances"], str(attrs.pop("distance")), attrs)


def _split(x: np.ndarray, n_queries: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    if n_queries >= len(x):
        raise DataError(f"need more than {n_queries} embeddings to hold out {n_queries} queries, got {len(x)}")
    perm = np.random.default_rng(seed).permutation(len(x))
    return x[perm[n_queries:]], x[perm[:n_queries]]


def build_dataset(name: str, embeddings: str | Path | None, queries: int, seed: int) -> Dataset:
    """Create a dataset (no caching); see module doc for the recipes."""
    emb_path = Path(embeddings) if embeddings else None
    if emb_path is not None and not emb_path.is_absolute():
        emb_path = ROOT / emb_path
    have_emb = emb_path is not None and emb_path.exists()
    attrs: dict[str, Any] = {"seed": seed, "queries": queries, "format": FORMAT}
    if name == CATALOG:
        if not have_emb:
            raise FileNotFoundError(f"{CATALOG} needs the catalog embeddings; {emb_path} does not exist "
                                    f"(run `mgw embed` or pass --embeddings)")
        x = normalize(np.load(emb_path))
        train, test = _split(x, queries, seed)
        attrs.update(source=str(emb_path.relative_to(ROOT) if emb_path.is_relative_to(ROOT) else emb_path),
                     source_sha256=sha256_file(emb_path))
    elif (n := parse_synth_size(name)) is not None:
        if have_emb:
            gen = SynthGenerator.fit(normalize(np.load(emb_path)), seed)
            attrs.update(source=str(emb_path.relative_to(ROOT) if emb_path.is_relative_to(ROOT) else emb_path),
                         source_sha256=sha256_file(emb_path), generator="pca64+gmm32-diag, fit")
        else:
            gen = SynthGenerator.default(384, seed)
            attrs.update(source="default", source_sha256="", generator="default power-law mixture")
        x = gen.sample(n + queries, seed)
        train, test = x[:n], x[n:]
    else:
        raise DataError(f"unknown benchmark dataset {name!r} (known: {CATALOG}, synth-<N>[k|m])")
    nb, dist = ground_truth(train, test)
    return Dataset(name, train, test, nb, dist, "angular", attrs)


def load_dataset(name: str, embeddings: str | Path | None = "data/processed/embeddings.npy", queries: int = 1000,
                 seed: int = 42, bench_dir: str | Path | None = None, rebuild: bool = False) -> Dataset:
    """The named dataset from the HDF5 cache, (re)built when absent or made from other inputs
    (seed, query count, source embeddings checksum)."""
    path = Path(bench_dir or BENCH_DIR) / f"{name}.hdf5"
    if path.exists() and not rebuild:
        ds = read_hdf5(path, name)
        emb_path = Path(embeddings) if embeddings else None
        if emb_path is not None and not emb_path.is_absolute():
            emb_path = ROOT / emb_path
        sha = sha256_file(emb_path) if emb_path is not None and emb_path.exists() else ""
        if (ds.attrs.get("seed") == seed and ds.attrs.get("queries") == queries
                and ds.attrs.get("format") == FORMAT and ds.attrs.get("source_sha256", "") == sha):
            return ds
    ds = build_dataset(name, embeddings, queries, seed)
    write_hdf5(path, ds)
    return ds
