"""Accuracy and difficulty measures used by the harness (definitions follow ann-benchmarks and VIBE)."""
from __future__ import annotations

import numpy as np


def recall_at_k(found: np.ndarray, neighbors: np.ndarray, k: int = 10) -> np.ndarray:
    """Per-query recall by id: |found[:k] ∩ true[:k]| / k. `found` holds int positions, -1 for missing."""
    found = np.asarray(found)[:, :k]
    truth = np.asarray(neighbors)[:, :k]
    hits = (found[:, :, None] == truth[:, None, :]).any(axis=2) & (found >= 0)
    return hits.sum(1) / k


def recall_with_ties(found_dist: np.ndarray, true_dist: np.ndarray, k: int = 10, eps: float = 1e-3) -> np.ndarray:
    """ann-benchmarks' 'knn' recall: a result counts when its distance ≤ the true k-th distance + eps,
    so ties at the k-th distance are not penalised. Distances: lower is better; NaN counts as a miss."""
    threshold = np.asarray(true_dist)[:, k - 1:k] + eps
    d = np.asarray(found_dist, dtype=np.float64)[:, :k]
    return (np.nan_to_num(d, nan=np.inf) <= threshold).sum(1) / k


def latency_summary(latencies_ns: np.ndarray) -> dict[str, float]:
    """p50/p95/p99/mean in microseconds."""
    us = np.asarray(latencies_ns, dtype=np.float64) / 1e3
    return {"p50_us": float(np.percentile(us, 50)), "p95_us": float(np.percentile(us, 95)),
            "p99_us": float(np.percentile(us, 99)), "mean_us": float(us.mean())}


def _euclid_to_sample(train: np.ndarray, queries: np.ndarray, sample: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    pts = train if len(train) <= sample else train[rng.choice(len(train), sample, replace=False)]
    d2 = (queries ** 2).sum(1)[:, None] - 2 * queries @ pts.T + (pts ** 2).sum(1)[None, :]
    return np.sqrt(np.maximum(d2, 0))


def relative_contrast(train: np.ndarray, queries: np.ndarray, knn_dist: np.ndarray, k: int = 10,
                      sample: int = 10_000, seed: int = 0) -> float:
    """RC@k (He et al. 2012; VIBE): mean over queries of mean-distance / k-th-NN distance (Euclidean).
    Higher = easier. `knn_dist` are Euclidean distances to the true neighbours, ascending."""
    mean_d = _euclid_to_sample(train, queries, sample, seed).mean(1)
    kth = np.maximum(knn_dist[:, k - 1], 1e-12)
    return float(np.mean(mean_d / kth))


def lid_mle(knn_dist: np.ndarray, k: int = 10) -> float:
    """LID@k by maximum likelihood (Amsaleg et al. 2015; VIBE): −(1/k Σ log(d_i/d_k))⁻¹, averaged over
    queries. Higher = harder. Zero distances (duplicates) are skipped."""
    d = np.asarray(knn_dist, dtype=np.float64)[:, :k]
    dk = d[:, -1:]
    with np.errstate(divide="ignore", invalid="ignore"):
        logs = np.log(np.where(d > 0, d, np.nan) / dk)
        lid = -1.0 / np.nanmean(logs, axis=1)
    lid = lid[np.isfinite(lid)]
    return float(lid.mean()) if lid.size else float("nan")


def angular_to_euclid(angular_dist: np.ndarray) -> np.ndarray:
    """Unit vectors: ann-benchmarks angular distance (1 − cos) → Euclidean distance sqrt(2 − 2cos)."""
    return np.sqrt(np.maximum(2.0 * np.asarray(angular_dist), 0))
