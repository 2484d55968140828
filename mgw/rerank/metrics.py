"""Ranking metrics at k with binary relevance, per user, plus bootstrap CIs and the paired test."""
from __future__ import annotations

import numpy as np
import pandas as pd

METRICS = ("ndcg@10", "recall@10", "mrr@10", "hitrate@10")


def rank_metrics(ranked: np.ndarray, relevant: list[np.ndarray], k: int = 10) -> pd.DataFrame:
    """ranked [U, ≥k] item rows best-first; relevant[u] the positive items. One row per user."""
    top = ranked[:, :k]
    disc = 1.0 / np.log2(np.arange(2, k + 2))
    rows = []
    for r, rel in enumerate(relevant):
        hit = np.isin(top[r], rel)
        n_rel = len(rel)
        dcg = float(disc[: len(hit)][hit].sum())
        idcg = float(disc[: min(n_rel, k)].sum())
        first = int(np.argmax(hit)) if hit.any() else -1
        rows.append((dcg / idcg if idcg else 0.0, hit.sum() / n_rel if n_rel else 0.0,
                     1.0 / (first + 1) if first >= 0 else 0.0, float(hit.any())))
    return pd.DataFrame(rows, columns=[m.replace("10", str(k)) for m in METRICS])


def ranking_from_scores(cand: np.ndarray, scores: np.ndarray) -> np.ndarray:
    order = np.argsort(-scores, axis=1, kind="stable")
    return np.take_along_axis(cand, order, 1)


def bootstrap_ci(values: np.ndarray, n: int = 1000, seed: int = 0, alpha: float = 0.05) -> tuple[float, float]:
    rng = np.random.default_rng(seed)
    values = np.asarray(values, float)
    means = values[rng.integers(0, len(values), size=(n, len(values)))].mean(1)
    return float(np.quantile(means, alpha / 2)), float(np.quantile(means, 1 - alpha / 2))


def paired_test(a: np.ndarray, b: np.ndarray, n: int = 1000, seed: int = 0) -> dict:
    """a vs b per user: mean difference with a paired bootstrap CI, Wilcoxon signed-rank and paired t p-values."""
    from scipy import stats

    d = np.asarray(a, float) - np.asarray(b, float)
    lo, hi = bootstrap_ci(d, n=n, seed=seed)
    nonzero = d[d != 0]
    wil = float(stats.wilcoxon(nonzero).pvalue) if len(nonzero) >= 10 else float("nan")
    tt = float(stats.ttest_rel(a, b).pvalue) if len(d) > 1 and d.std() > 0 else float("nan")
    return {"mean_diff": float(d.mean()), "ci95": [lo, hi], "p_wilcoxon": wil, "p_ttest": tt,
            "users": int(len(d)), "wins": int((d > 0).sum()), "losses": int((d < 0).sum())}


def holm(pvalues) -> np.ndarray:
    """Holm step-down adjusted p-values (controls the family-wise error rate at alpha across the family)."""
    p = np.asarray(pvalues, dtype=np.float64)
    m = p.size
    if m == 0:
        return p
    order = np.argsort(p, kind="stable")
    adj_sorted = np.maximum.accumulate((m - np.arange(m)) * p[order])
    out = np.empty(m)
    out[order] = np.minimum(adj_sorted, 1.0)
    return out


def conditional_and_oracle(cand: np.ndarray, relevant: list[np.ndarray], ndcg: np.ndarray, k: int) -> dict:
    """NDCG@k over users with ≥ 1 relevant candidate, and the oracle ceiling (relevant candidates ranked first)."""
    n_in = np.array([np.isin(r, c).sum() for c, r in zip(cand, relevant)])
    disc = 1.0 / np.log2(np.arange(2, k + 2))
    oracle = [disc[:min(n, k)].sum() / disc[:min(len(r), k)].sum() if len(r) else 0.0
              for n, r in zip(n_in, relevant)]
    has = n_in > 0
    return {"conditional_ndcg@10": float(ndcg[has].mean()) if has.any() else float("nan"),
            "users_with_relevant_candidate": int(has.sum()), "oracle_ndcg@10": float(np.mean(oracle))}
