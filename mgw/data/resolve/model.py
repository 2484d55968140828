"""mgw's evidence model: a logistic regression over the comparison levels, fitted on labelled pairs.

Why logistic rather than a hand-set cut-off: each level's weight (its log-odds contribution) is learned from
pairs whose answer is known, the output is a match probability, and a pair's score splits into per-comparison
contributions — the evidence that decided it, kept in merges.parquet. The decision threshold is chosen on
out-of-fold predictions of the training pairs (never on the gold set).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold

from mgw.data.resolve.comparisons import COMPARISONS, Comparison


def one_hot(gammas: pd.DataFrame, comparisons: tuple[Comparison, ...] = COMPARISONS) -> np.ndarray:
    """[n, Σ levels] indicator matrix of the level each pair takes in each comparison."""
    blocks = [np.eye(len(c.levels), dtype=np.float64)[gammas[c.name].to_numpy()] for c in comparisons]
    return np.hstack(blocks) if blocks else np.zeros((len(gammas), 0))


def best_f1_threshold(p: np.ndarray, y: np.ndarray) -> float:
    """Probability cut-off with the highest F1 on (p, y); ties go to the higher cut-off (fewer merges)."""
    best, best_t = -1.0, 0.5
    for t in np.unique(p)[::-1]:
        pred = p >= t
        tp = int((pred & (y == 1)).sum())
        f1 = 2 * tp / (pred.sum() + (y == 1).sum()) if tp else 0.0
        if f1 > best + 1e-12:
            best, best_t = f1, float(t)
    return best_t


@dataclass
class EvidenceModel:
    C: float = 1.0
    seed: int = 0
    threshold: float = 0.5
    coef_: np.ndarray = field(default=None, repr=False)  # type: ignore[assignment]
    intercept_: float = 0.0

    def _clf(self) -> LogisticRegression:
        return LogisticRegression(C=self.C, max_iter=2000, random_state=self.seed)

    def fit(self, gammas: pd.DataFrame, y: np.ndarray, folds: int = 5) -> "EvidenceModel":
        """Fit on all labelled pairs; the threshold maximises F1 over out-of-fold probabilities."""
        X, y = one_hot(gammas), np.asarray(y, dtype=int)
        oof = np.zeros(len(y))
        k = min(folds, int(np.bincount(y, minlength=2).min()))
        if k >= 2:
            for tr, te in StratifiedKFold(k, shuffle=True, random_state=self.seed).split(X, y):
                oof[te] = self._clf().fit(X[tr], y[tr]).predict_proba(X[te])[:, 1]
            self.threshold = best_f1_threshold(oof, y)
        clf = self._clf().fit(X, y)
        self.coef_, self.intercept_ = clf.coef_.ravel(), float(clf.intercept_[0])
        return self

    def score(self, gammas: pd.DataFrame) -> np.ndarray:
        """Log-odds of a match."""
        return one_hot(gammas) @ self.coef_ + self.intercept_

    def predict_proba(self, gammas: pd.DataFrame) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-self.score(gammas)))

    def weights(self) -> dict[str, dict[str, float]]:
        """comparison → level → log-odds weight."""
        out, k = {}, 0
        for c in COMPARISONS:
            out[c.name] = {lv.label: float(self.coef_[k + i]) for i, lv in enumerate(c.levels)}
            k += len(c.levels)
        return out

    def contributions(self, gammas: pd.DataFrame) -> pd.DataFrame:
        """Per pair and comparison, the weight of the level it took (the score is their sum + intercept)."""
        w = self.weights()
        return pd.DataFrame({c.name: np.array(list(w[c.name].values()))[gammas[c.name].to_numpy()]
                             for c in COMPARISONS}, index=gammas.index)
