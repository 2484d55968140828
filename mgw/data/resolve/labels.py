"""Labelled listing pairs: the hand-checked set (tests/data/resolve_pairs.csv) and simulated ground truth.

The hand-checked set holds cross-platform pairs of the real catalogs, each decided by reading both listings
(title, type, year, people, runtime, synopsis, platform) and carrying a one-line reason; `label` is 1 (one
title), 0 (different titles) or empty (undecidable — left out of every count). `class` is the failure class
the pair fits (see `CLASSES`), and `split` keeps `gold` (evaluation only) apart from `train` (fitting mgw's
evidence model, choosing both engines' thresholds): pairs that share a listing are always in the same split.
`sample` says how a pair was drawn (mgw.data.resolve.sampling): `stratified` per class from a candidate pool
that does not depend on the resolver, `enrich` (more retitled pairs with shared people or similar synopses),
or `active` (uncertainty sampling among candidate pairs, away from every gold listing; train only).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from mgw.errors import DataError

CLASSES = {
    "series_years": "both series, same title, release years differ (first vs latest season)",
    "prefix": "title keys equal only after dropping an article or brand prefix",
    "same_title": "same normalized title with conflicting evidence (disjoint people, runtimes, years)",
    "movie_vs_series": "one movie, one series, similar titles",
    "missing_cast": "movies with similar titles where one listing names nobody",
    "retitled": "titles differ beyond small edits (subtitles, edition tags, dubs, other titles)",
    "easy": "same normalized title and type, years within one, people overlap",
    "other": "similar titles (small edits) not in the classes above",
}
COLUMNS = ["a", "b", "title_a", "title_b", "class", "label", "reason", "split", "sample"]


def read_labels(path: str | Path) -> pd.DataFrame:
    """The labelled pairs with a decided label (0/1), as a frame with an int `label` column (a relative path is
    relative to the repository, whatever the working directory)."""
    from mgw.config import ROOT

    path = Path(path) if Path(path).is_absolute() else ROOT / path
    if not path.exists():
        raise DataError(f"labelled pair file {path} not found (resolve.labels)")
    df = pd.read_csv(path, dtype={"label": "Int64"}, keep_default_na=False, na_values={"label": [""]})
    missing = [c for c in COLUMNS if c not in df.columns]
    if missing:
        raise DataError(f"{path}: missing columns {missing}")
    unknown = sorted(set(df["class"]) - set(CLASSES))
    if unknown:
        raise DataError(f"{path}: unknown classes {unknown} (known: {sorted(CLASSES)})")
    df = df[df["label"].notna()].copy()
    df["label"] = df["label"].astype(int)
    return df.reset_index(drop=True)


def locate(pairs: pd.DataFrame, ids: pd.Series) -> pd.DataFrame:
    """Row positions `i`, `j` (i < j) of labelled pairs `a`, `b` among listing `ids`; pairs with an unknown id
    are dropped."""
    pos = pd.Series(np.arange(len(ids)), index=pd.Index(ids))
    keep = pairs["a"].isin(pos.index) & pairs["b"].isin(pos.index)
    out = pairs[keep].copy()
    a, b = pos[out["a"]].to_numpy(), pos[out["b"]].to_numpy()
    out["i"], out["j"] = np.minimum(a, b), np.maximum(a, b)
    return out.reset_index(drop=True)


def truth_pairs(candidates: pd.DataFrame, ids: pd.Series, truth: dict[str, str], negatives_per_positive: int,
                seed: int) -> pd.DataFrame:
    """Candidate pairs labelled by ground truth (listing → work): every positive and a seeded sample of
    `negatives_per_positive` negatives for each."""
    work = ids.map(truth).to_numpy()
    i, j = candidates["i"].to_numpy(), candidates["j"].to_numpy()
    label = ((work[i] == work[j]) & pd.notna(work[i])).astype(int)
    pos, neg = np.flatnonzero(label == 1), np.flatnonzero(label == 0)
    rng = np.random.default_rng(seed)
    neg = rng.permutation(neg)[:max(1, negatives_per_positive * len(pos))]
    keep = np.sort(np.concatenate([pos, neg]))
    return pd.DataFrame({"i": i[keep], "j": j[keep], "label": label[keep]})


def assign_split(pairs: pd.DataFrame, gold_share: float = 0.6, salt: str = "mgw-gold-16") -> np.ndarray:
    """`gold` or `train` per pair: pairs linked through a shared listing form one group, and a group's split
    comes from a salted hash of its (smallest) listing id — stable, and no listing is on both sides."""
    import hashlib

    from mgw.data.resolve.model import listing_groups

    group = listing_groups(pairs["a"], pairs["b"])
    listings = pd.DataFrame({"group": np.concatenate([group, group]),
                             "listing": np.concatenate([np.asarray(pairs["a"]), np.asarray(pairs["b"])])})
    name = listings.groupby("group")["listing"].min()
    share = [int(hashlib.sha256(f"{salt}:{name[g]}".encode()).hexdigest()[:8], 16) / 2**32 for g in group]
    return np.where(np.asarray(share) < gold_share, "gold", "train")
