"""mgw's evidence model: a logistic regression over the comparison levels, fitted on labelled pairs.

Why logistic rather than a hand-set cut-off: each level's weight (its log-odds contribution) is learned from
pairs whose answer is known, the output is a match probability, and a pair's score splits into per-comparison
contributions — the evidence that decided it, kept in merges.parquet.

The regularisation and the decision threshold are chosen by grouped, repeated cross-validation on the
training pairs only (never on the gold set): pairs that share a listing stay in one fold (`groups`), every
repeat reshuffles the folds, and the out-of-fold probabilities of all repeats are pooled. The operating point
is the threshold with the most pooled out-of-fold recall whose precision still reaches `min_precision` (the
highest such threshold on ties) — and `C` is the grid value with the highest recall there (ties: lower log-loss).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss
from threadpoolctl import threadpool_limits

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


def recall_at_precision(p: np.ndarray, y: np.ndarray, min_precision: float) -> tuple[float, float, float]:
    """(threshold, recall, precision) of the cut-off on `p` with the most recall among those whose precision is
    ≥ `min_precision`, the highest such cut-off on ties (NaN threshold and zero recall when none reaches it)."""
    y = np.asarray(y, dtype=int)
    order = np.argsort(-p, kind="stable")
    ps, ys = p[order], y[order]
    last = np.r_[ps[1:] != ps[:-1], True]  # a cut-off admits every pair tied with it
    tp, n = np.cumsum(ys)[last], (np.arange(len(ps)) + 1)[last]
    prec = tp / n
    ok = np.flatnonzero(prec >= min_precision)
    if not len(ok) or ys.sum() == 0:
        return float("nan"), 0.0, float("nan")
    k = ok[np.argmax(tp[ok])]  # the most recall; ties go to the higher cut-off (fewer merges)
    return float(ps[last][k]), float(tp[k] / ys.sum()), float(prec[k])


def grouped_folds(y: np.ndarray, groups: np.ndarray, folds: int, seed: int) -> np.ndarray:
    """Fold number per pair: whole groups go to folds, in a seeded random order, each to the fold with the fewest
    positives so far (then the fewest pairs) — stratified and grouped like scikit-learn's StratifiedGroupKFold,
    without its cost (seconds per split on a few hundred groups)."""
    uniq, inv = np.unique(groups, return_inverse=True)
    pos, size = np.bincount(inv, weights=y, minlength=len(uniq)), np.bincount(inv, minlength=len(uniq))
    order = np.random.default_rng(seed).permutation(len(uniq))
    order = order[np.argsort(-pos[order], kind="stable")]  # groups with positives first, shuffled among equals
    fold_pos, fold_neg, fold_of = np.zeros(folds), np.zeros(folds), np.zeros(len(uniq), dtype=np.int64)
    for gi in order:
        f = int(np.lexsort((fold_neg, fold_pos))[0] if pos[gi] else np.lexsort((fold_pos, fold_neg))[0])
        fold_of[gi] = f
        fold_pos[f] += pos[gi]
        fold_neg[f] += size[gi] - pos[gi]
    return fold_of[inv]


def listing_groups(a: Sequence[Any], b: Sequence[Any]) -> np.ndarray:
    """Per pair, the id of its connected group of listings (pairs that share a listing share a group)."""
    parent: dict[Any, Any] = {}

    def find(x: Any) -> Any:
        while parent.setdefault(x, x) != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for x, z in zip(a, b):
        parent[find(x)] = find(z)
    roots = [find(x) for x in a]
    index = {r: k for k, r in enumerate(dict.fromkeys(roots))}
    return np.array([index[r] for r in roots], dtype=np.int64)


@dataclass
class EvidenceModel:
    C: float = 1.0
    seed: int = 0
    threshold: float = 0.5
    C_grid: tuple[float, ...] = ()  # regularisation values tried by cross-validation (empty: `C` as given)
    min_precision: float = 0.98  # the operating point: out-of-fold precision the threshold keeps
    folds: int = 5
    repeats: int = 5
    coef_: np.ndarray = field(default=None, repr=False)  # type: ignore[assignment]
    intercept_: float = 0.0
    cv: dict[str, Any] = field(default_factory=dict)

    def _clf(self, C: float | None = None) -> LogisticRegression:
        # Newton–Cholesky: a few dozen one-hot columns, so a handful of exact Newton steps (lbfgs needs hundreds)
        return LogisticRegression(C=self.C if C is None else C, solver="newton-cholesky", max_iter=200,
                                  random_state=self.seed)

    def out_of_fold(self, X: np.ndarray, y: np.ndarray, groups: np.ndarray, C: float) -> np.ndarray:
        """[repeats, n] out-of-fold probabilities, folds grouped by listing and reshuffled every repeat."""
        k = min(self.folds, int(np.bincount(y, minlength=2).min()), len(np.unique(groups)))
        out = np.full((self.repeats, len(y)), np.nan)
        with threadpool_limits(1):  # a few hundred pairs: BLAS threads only contend on a loaded machine
            for r in range(self.repeats):
                fold = grouped_folds(y, groups, k, self.seed + r)
                for f in range(k):
                    tr, te = fold != f, fold == f
                    if len(np.unique(y[tr])) < 2:
                        out[r, te] = y[tr].mean()
                        continue
                    out[r, te] = self._clf(C).fit(X[tr], y[tr]).predict_proba(X[te])[:, 1]
        return out

    def fit(self, gammas: pd.DataFrame, y: np.ndarray, groups: np.ndarray | None = None) -> "EvidenceModel":
        """Choose C and the threshold by grouped repeated CV (see module doc), then fit on all pairs."""
        X, y = one_hot(gammas), np.asarray(y, dtype=int)
        groups = np.arange(len(y)) if groups is None else np.asarray(groups)
        if min(np.bincount(y, minlength=2)) >= 2 and len(np.unique(groups)) >= 2:
            per_c = {}
            for C in (self.C_grid or (self.C,)):
                oof = self.out_of_fold(X, y, groups, C)
                pooled, yy = oof.ravel(), np.tile(y, len(oof))
                t, rec, prec = recall_at_precision(pooled, yy, self.min_precision)
                if np.isnan(t):  # the target is out of reach: best F1 instead
                    t = best_f1_threshold(pooled, yy)
                    pred = pooled >= t
                    rec, prec = float((pred & (yy == 1)).sum() / yy.sum()), float(yy[pred].mean())
                per_c[float(C)] = {"threshold": t, "recall": rec, "precision": prec,
                                   "log_loss": float(np.mean([log_loss(y, o, labels=[0, 1]) for o in oof]))}
            self.C = max(per_c, key=lambda c: (round(per_c[c]["recall"], 6), -per_c[c]["log_loss"]))
            self.threshold = per_c[self.C]["threshold"]
            self.cv = {"folds": self.folds, "repeats": self.repeats, "grouped_by": "listing",
                       "min_precision": self.min_precision, "chosen_C": self.C, "by_C": per_c}
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
