"""How good a resolution is: labelled pairs (hand-checked gold, silver, simulated truth) against entities.

A labelled pair counts as predicted-same when both listings ended in one entity — the resolver's final
answer, after clustering — so a pair merged only through a third listing counts as merged. Bootstrap
intervals resample labelled pairs with replacement (percentile 95 % CI).
"""
from __future__ import annotations

from collections import defaultdict
from typing import Any

import numpy as np
import pandas as pd

from mgw.data.normalize import normalize_title


def prf(pred: np.ndarray, gold: np.ndarray) -> dict[str, float]:
    tp, fp, fn = int((pred & gold).sum()), int((pred & ~gold).sum()), int((~pred & gold).sum())
    p = tp / (tp + fp) if tp + fp else 1.0
    r = tp / (tp + fn) if tp + fn else 1.0
    return {"precision": p, "recall": r, "f1": 2 * p * r / (p + r) if p + r else 0.0,
            "tp": tp, "fp": fp, "fn": fn}


def bootstrap_prf(pred: np.ndarray, gold: np.ndarray, reps: int, seed: int) -> dict[str, list[float]]:
    """95 % percentile intervals of precision, recall and F1 over `reps` resamples of the pairs."""
    if reps <= 0 or len(pred) == 0:
        return {}
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(pred), size=(reps, len(pred)))
    p, g = pred[idx], gold[idx]
    tp, fp, fn = (p & g).sum(1), (p & ~g).sum(1), (~p & g).sum(1)
    with np.errstate(invalid="ignore", divide="ignore"):
        prec = np.where(tp + fp > 0, tp / (tp + fp), 1.0)
        rec = np.where(tp + fn > 0, tp / (tp + fn), 1.0)
        f1 = np.where(prec + rec > 0, 2 * prec * rec / (prec + rec), 0.0)
    return {k: [float(np.percentile(v, 2.5)), float(np.percentile(v, 97.5))]
            for k, v in (("precision", prec), ("recall", rec), ("f1", f1))}


def same_entity(pairs: pd.DataFrame, item_entity: dict[str, str]) -> np.ndarray:
    return np.array([item_entity.get(a) is not None and item_entity.get(a) == item_entity.get(b)
                     for a, b in zip(pairs["a"], pairs["b"])], dtype=bool)


def labelled_report(labels: pd.DataFrame, predicted: np.ndarray, reps: int, seed: int,
                    by: str | None = "class") -> dict[str, Any]:
    """P/R/F1 with bootstrap CIs over labelled pairs (`label` 0/1), overall and per `by` group."""
    gold = labels["label"].to_numpy() == 1

    def one(mask: np.ndarray, salt: int) -> dict[str, Any]:
        return {"pairs": int(mask.sum()), "positives": int(gold[mask].sum()),
                **prf(predicted[mask], gold[mask]), "ci95": bootstrap_prf(predicted[mask], gold[mask], reps, seed + salt)}

    out = one(np.ones(len(labels), dtype=bool), 0)
    if by:
        out["by_" + by] = {str(k): one((labels[by] == k).to_numpy(), n + 1)
                           for n, k in enumerate(sorted(labels[by].unique()))}
    return out


def pairwise_scores(predicted: dict[str, str], truth: dict[str, str]) -> dict[str, float]:
    """Precision/recall/F1 over all cross-listing pairs: a pair is positive when both listings share an entity."""
    def pairs(assign: dict[str, str]) -> set[tuple[str, str]]:
        groups: dict[str, list[str]] = defaultdict(list)
        for item, ent in assign.items():
            if item in truth:
                groups[ent].append(item)
        return {(a, b) for g in groups.values() for a in sorted(g) for b in sorted(g) if a < b}

    pred, gold = pairs(predicted), pairs(truth)
    tp = len(pred & gold)
    p = tp / len(pred) if pred else 1.0
    r = tp / len(gold) if gold else 1.0
    return {"precision": p, "recall": r, "f1": 2 * p * r / (p + r) if p + r else 0.0, "true_pairs": len(gold),
            "predicted_pairs": len(pred), "true_positives": tp}


def truth_recall_by_type(items: pd.DataFrame, predicted: dict[str, str], truth: dict[str, str]) -> dict[str, float]:
    """Recall of the true cross-listing pairs per listing type (movie, series)."""
    typ = items.set_index("id")["type"]
    groups: dict[str, list[str]] = defaultdict(list)
    for item, work in truth.items():
        groups[work].append(item)
    hit: dict[str, list[bool]] = defaultdict(list)
    for g in groups.values():
        for a in g:
            for b in g:
                if a < b:
                    hit[str(typ.get(a))].append(predicted.get(a) == predicted.get(b))
    return {t: float(np.mean(v)) for t, v in hit.items() if v}


def exact_duplicate_pairs(items: pd.DataFrame) -> set[tuple[str, str]]:
    """Cross-platform listing pairs with the same normalized (title, year) — not all are one title."""
    out = set()
    for _, g in items.groupby([items["title"].map(normalize_title), items["release_year"]]):
        ids = g[["id", "platform"]].values.tolist()
        out |= {(min(a, b), max(a, b)) for a, pa in ids for b, pb in ids if a < b and pa != pb}
    return out
