"""The silver view: pairs labelled by evidence the title comparison does not use, built from any catalog.

Candidates: cross-platform pairs with title similarity ≥ 80 (rapidfuzz ratio on normalized titles, compared
within first-character/±2-year blocks — the silver sampler's own blocking, independent of the resolver's),
sampled evenly from the bands [80,90), [90,95), [95,100), 100. Labels come from the synopses (TF-IDF cosine:
each platform writes its own synopsis, but one film's synopses share names and plot words) and runtimes:
positive when cosine ≥ 0.15 and movie runtimes (when both known) are within 10 min; negative when
cosine < 0.03 or movie runtimes differ by > 20 min; anything between is left unlabeled. Its limit: a film
whose platforms wrote unrelated synopses is labelled negative, two same-title films with similar plots
positive — and the resolver now uses synopses and runtimes itself, so this view is no longer independent;
the hand-checked gold set is the measure, silver a second view kept for continuity.
"""
from __future__ import annotations

from collections import defaultdict
from typing import Any

import numpy as np
import pandas as pd
from rapidfuzz import fuzz, process

from mgw.data.normalize import normalize_title
from mgw.data.resolve.evaluate import labelled_report, same_entity


def similar_title_pairs(items: pd.DataFrame, cutoff: float, year_tol: int, workers: int = 2) -> pd.DataFrame:
    """Cross-platform pairs in one (first title character, years within `year_tol`) block with title ratio ≥ cutoff."""
    keys = items["title"].map(normalize_title).to_numpy()
    years = items["release_year"].fillna(-1).astype(int).to_numpy()
    plats = items["platform"].to_numpy()
    blocks: dict[tuple[str, int], list[int]] = defaultdict(list)
    for i, (k, y) in enumerate(zip(keys, years)):
        blocks[(k[:1], y)].append(i)
    out: list[tuple[int, int, float]] = []
    for (first, y), left in blocks.items():
        for dy in range(0, year_tol + 1):
            right = blocks.get((first, y + dy))
            if not right:
                continue
            scores = process.cdist([keys[i] for i in left], [keys[j] for j in right], scorer=fuzz.ratio,
                                   score_cutoff=cutoff, workers=workers, dtype=np.uint8)
            for a, b in zip(*np.nonzero(scores)):
                i, j = left[a], right[b]
                if (dy > 0 or i < j) and plats[i] != plats[j]:
                    out.append((min(i, j), max(i, j), float(scores[a, b])))
    return pd.DataFrame(out, columns=["i", "j", "title_score"]).drop_duplicates(["i", "j"])


def silver_labels(items: pd.DataFrame, sample: int, seed: int, workers: int = 2) -> pd.DataFrame:
    """Silver-labelled pairs (see module doc): a, b, titles, title_score, band, synopsis_cosine, runtime_diff, label."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    rng = np.random.default_rng(seed)
    df = similar_title_pairs(items, 80, 2, workers)
    df["band"] = pd.cut(df["title_score"], [79.9, 89.999, 94.999, 99.999, 100],
                        labels=["80-90", "90-95", "95-100", "100"])
    per_band = max(1, sample // 4)
    picked = [g.iloc[rng.permutation(len(g))[:per_band]] for _, g in df.groupby("band", observed=True)]
    df = pd.concat(picked) if picked else df.iloc[:0]
    text = items["description"].fillna("")
    tfidf = TfidfVectorizer(stop_words="english", sublinear_tf=True, min_df=2).fit_transform(text)
    i, j = df["i"].to_numpy(dtype=int), df["j"].to_numpy(dtype=int)
    cos = np.asarray(tfidf[i].multiply(tfidf[j]).sum(axis=1)).ravel()
    dur = items["duration_min"].to_numpy(dtype=float)
    movies = (items["type"].to_numpy() == "movie")
    both_timed = movies[i] & movies[j] & ~np.isnan(dur[i]) & ~np.isnan(dur[j])
    ddur = np.where(both_timed, np.abs(dur[i] - dur[j]), 0.0)
    label = np.where((cos >= 0.15) & (ddur <= 10), 1, np.where((cos < 0.03) | (ddur > 20), 0, -1))
    out = pd.DataFrame({"a": items["id"].to_numpy()[i], "b": items["id"].to_numpy()[j],
                        "title_a": items["title"].to_numpy()[i], "title_b": items["title"].to_numpy()[j],
                        "title_score": df["title_score"].to_numpy(), "band": df["band"].astype(str).to_numpy(),
                        "synopsis_cosine": cos, "runtime_diff": ddur, "label": label})
    return out[out["label"] >= 0].reset_index(drop=True)


def silver_report(labels: pd.DataFrame, item_entity: dict[str, str], reps: int, seed: int) -> dict[str, Any]:
    if labels.empty:
        return {"pairs": 0}
    return labelled_report(labels, same_entity(labels, item_entity), reps, seed, by="band")
