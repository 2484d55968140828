"""Entity resolution (seed §3.1.1 step 3): merge one title's listings across platforms into one entity.

Rules, in order:
1. exact: same normalized title and release year → same entity.
2. fuzzy: title similarity (rapidfuzz ratio on normalized titles) ≥ `title_threshold`, years within
   `year_tolerance`, and the cast/director evidence does not contradict: when both listings name people,
   their overlap must exceed `people_threshold` (Jaccard) — when either side names nobody, the title and
   year decide.
Only listings from *different* platforms merge, and an entity never holds two listings of one platform
(a merge that would do so is refused and counted as a conflict).
Blocking: candidates share the first character of the normalized title and a year window, so the work is
a sum of small blocks, not all pairs (the comparison count is reported).
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from rapidfuzz import fuzz, process

from mgw.config import PLATFORMS, ResolveParams
from mgw.data.normalize import normalize_title


class _Components:
    """Union-find over listing indices that refuses merges joining two listings of one platform."""

    def __init__(self, platforms: list[str]):
        self.parent = list(range(len(platforms)))
        self.platforms = [{p} for p in platforms]
        self.conflicts = 0

    def find(self, i: int) -> int:
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def union(self, a: int, b: int) -> bool:
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return False
        if self.platforms[ra] & self.platforms[rb]:
            self.conflicts += 1
            return False
        self.parent[rb] = ra
        self.platforms[ra] |= self.platforms[rb]
        return True


@dataclass
class Resolution:
    entities: pd.DataFrame
    item_entity: dict[str, str]  # listing id → entity id
    merges: list[dict[str, Any]] = field(default_factory=list)  # one per accepted pair, with evidence
    stats: dict[str, Any] = field(default_factory=dict)


def _people(row: Any) -> set[str]:
    return {p.casefold() for p in list(row["cast"]) + list(row["directors"])}


def _jaccard(a: set[str], b: set[str]) -> float:
    return len(a & b) / len(a | b) if a and b else float("nan")


def evidence_ok(people_a: set[str], people_b: set[str], threshold: float) -> tuple[bool, float]:
    j = _jaccard(people_a, people_b)
    if np.isnan(j):
        return True, j
    return j > threshold if threshold > 0 else j > 0, j


def candidate_pairs(items: pd.DataFrame, cutoff: float, year_tol: int,
                    workers: int = 2) -> tuple[list[tuple[int, int, float]], int]:
    """Cross-platform listing pairs in one block (first title character, years within `year_tol`) whose
    title score is ≥ cutoff, as (i, j, score) with i < j; and how many title comparisons were made."""
    keys = items["title"].map(normalize_title).to_numpy()
    years = items["release_year"].fillna(-1).astype(int).to_numpy()
    plats = items["platform"].to_numpy()
    blocks: dict[tuple[str, int], list[int]] = defaultdict(list)
    for i, (k, y) in enumerate(zip(keys, years)):
        blocks[(k[:1], y)].append(i)
    out: list[tuple[int, int, float]] = []
    compared = 0
    for (first, y), left in blocks.items():
        for dy in range(0, year_tol + 1):
            right = blocks.get((first, y + dy))
            if not right:
                continue
            scores = process.cdist([keys[i] for i in left], [keys[j] for j in right], scorer=fuzz.ratio,
                                   score_cutoff=cutoff, workers=workers, dtype=np.uint8)
            compared += scores.size
            for a, b in zip(*np.nonzero(scores)):
                i, j = left[a], right[b]
                if (dy > 0 or i < j) and plats[i] != plats[j]:
                    out.append((min(i, j), max(i, j), float(scores[a, b])))
    return out, compared


def resolve(items: pd.DataFrame, params: ResolveParams | None = None, workers: int = 2) -> Resolution:
    params = params or ResolveParams()
    items = items.reset_index(drop=True)
    n = len(items)
    comps = _Components(items["platform"].tolist())
    keys = items["title"].map(normalize_title)
    merges: list[dict[str, Any]] = []

    # 1. exact (normalized title, year)
    exact_pairs = 0
    for _, idx in items.groupby([keys, items["release_year"]]).indices.items():
        idx = sorted(idx)
        for j in idx[1:]:
            if items.at[idx[0], "platform"] != items.at[j, "platform"] and comps.union(idx[0], j):
                exact_pairs += 1
                merges.append({"a": items.at[idx[0], "id"], "b": items.at[j, "id"], "kind": "exact",
                               "title_score": 100.0, "year_diff": 0, "people_jaccard": None})
    # 2. fuzzy within blocks
    records = items.to_dict("records")
    people = [_people(r) for r in records]
    fuzzy_pairs = refused_evidence = 0
    pairs, compared = candidate_pairs(items, params.title_threshold, params.year_tolerance, workers)
    for i, j, score in sorted(pairs, key=lambda t: -t[2]):
        if comps.find(i) == comps.find(j):
            continue
        ok, jac = evidence_ok(people[i], people[j], params.people_threshold)
        if not ok:
            refused_evidence += 1
            continue
        if comps.union(i, j):
            fuzzy_pairs += 1
            merges.append({"a": items.at[i, "id"], "b": items.at[j, "id"], "kind": "fuzzy", "title_score": score,
                           "year_diff": int(abs(items.at[i, "release_year"] - items.at[j, "release_year"])),
                           "people_jaccard": None if np.isnan(jac) else round(jac, 3)})

    groups: dict[int, list[int]] = defaultdict(list)
    for i in range(n):
        groups[comps.find(i)].append(i)
    kinds = {m["a"]: m["kind"] for m in merges} | {m["b"]: m["kind"] for m in merges}
    entities, item_entity = [], {}
    for members in groups.values():
        ent = _merge_listings([records[i] for i in members], kinds)
        entities.append(ent)
        for i in members:
            item_entity[records[i]["id"]] = ent["entity_id"]
    frame = pd.DataFrame(entities).sort_values("entity_id").reset_index(drop=True)
    stats = {"listings": n, "entities": len(frame), "exact_merges": exact_pairs, "fuzzy_merges": fuzzy_pairs,
             "refused_by_people_evidence": refused_evidence, "refused_platform_conflicts": comps.conflicts,
             "title_comparisons": compared,
             "all_pairs": n * (n - 1) // 2,
             "multi_platform_entities": int((frame["platforms"].map(len) > 1).sum())}
    return Resolution(frame, item_entity, merges, stats)


def _merge_listings(group: list[dict[str, Any]], kinds: dict[str, str]) -> dict[str, Any]:
    """One entity from its listings: fields from the first platform in PLATFORMS order, lists united,
    the longest synopsis."""
    order = {p: i for i, p in enumerate(PLATFORMS)}
    group = sorted(group, key=lambda r: (order.get(r["platform"], 99), r["id"]))
    first = group[0]

    def union(col: str) -> list[str]:
        out: list[str] = []
        for r in group:
            out.extend(v for v in r[col] if v not in out)
        return out

    def first_valid(col: str) -> Any:
        return next((r[col] for r in group if r[col] is not None and not pd.isna(r[col])), None)

    genres = union("genres")
    if len(genres) > 1 and "other" in genres:
        genres.remove("other")
    source_ids = sorted(r["id"] for r in group)
    kind = "single" if len(group) == 1 else ("fuzzy" if any(kinds.get(i) == "fuzzy" for i in source_ids) else "exact")
    year = first_valid("release_year")
    return {
        "entity_id": f"ent:{source_ids[0]}", "title": first["title"], "type": first["type"],
        "description": max((r["description"] or "" for r in group), key=len),
        "release_year": int(year) if year is not None else None,
        "duration_min": first_valid("duration_min"), "seasons": first_valid("seasons"),
        "rating": first_valid("rating"), "genres": genres, "cast": union("cast"), "directors": union("directors"),
        "countries": union("countries"), "date_added": first_valid("date_added"),
        "platforms": sorted({r["platform"] for r in group}, key=order.get), "source_ids": source_ids,
        "match_kind": kind,
    }


# ------------------------------------------------------------------------------------------- evaluation
def pairwise_scores(predicted: dict[str, str], truth: dict[str, str]) -> dict[str, float]:
    """Precision/recall/F1 over cross-listing pairs: a pair is positive when both listings share an entity."""
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


def exact_duplicate_pairs(items: pd.DataFrame) -> set[tuple[str, str]]:
    """Cross-platform listing pairs with the same normalized (title, year): the must-find set."""
    out = set()
    for _, g in items.groupby([items["title"].map(normalize_title), items["release_year"]]):
        ids = g[["id", "platform"]].values.tolist()
        out |= {(min(a, b), max(a, b)) for a, pa in ids for b, pb in ids if a < b and pa != pb}
    return out


def silver_labels(items: pd.DataFrame, sample: int, seed: int, workers: int = 2) -> pd.DataFrame:
    """A labelled pair set for real catalogs, built from evidence the resolver does not use.

    Candidates: cross-platform pairs with title similarity ≥ 80 and years within 2, sampled evenly
    across similarity bands [80,90), [90,95), [95,100), 100. Labels come from the synopses (TF-IDF cosine:
    each platform writes its own synopsis, but one film's synopses share names and plot words) and runtimes:
    positive when cosine ≥ 0.15 and movie runtimes (when both known) are within 10 min; negative when
    cosine < 0.03 or movie runtimes differ by > 20 min; anything between is left unlabeled. Season counts are
    not evidence (platforms license different seasons of one show). Limits: a film whose platforms wrote
    unrelated synopses is labelled negative, two same-title films with similar plots positive.
    """
    from sklearn.feature_extraction.text import TfidfVectorizer

    rng = np.random.default_rng(seed)
    pairs, _ = candidate_pairs(items, 80, 2, workers)
    df = pd.DataFrame(pairs, columns=["i", "j", "title_score"]).drop_duplicates(["i", "j"])
    df["band"] = pd.cut(df["title_score"], [79.9, 89.999, 94.999, 99.999, 100],
                        labels=["80-90", "90-95", "95-100", "100"])
    per_band = max(1, sample // 4)
    picked = [g.iloc[rng.permutation(len(g))[:per_band]] for _, g in df.groupby("band", observed=True)]
    df = pd.concat(picked) if picked else df.iloc[:0]
    text = items["description"].fillna("")
    tfidf = TfidfVectorizer(stop_words="english", sublinear_tf=True, min_df=2).fit_transform(text)
    i, j = df["i"].to_numpy(), df["j"].to_numpy()
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


def score_labelled(labels: pd.DataFrame, item_entity: dict[str, str]) -> dict[str, Any]:
    if labels.empty:
        return {"pairs": 0}
    pred = np.array([item_entity[a] == item_entity[b] for a, b in zip(labels["a"], labels["b"])])
    gold = labels["label"].to_numpy() == 1
    tp, fp, fn = int((pred & gold).sum()), int((pred & ~gold).sum()), int((~pred & gold).sum())
    p = tp / (tp + fp) if tp + fp else 1.0
    r = tp / (tp + fn) if tp + fn else 1.0
    return {"pairs": int(len(labels)), "positives": int(gold.sum()), "negatives": int((~gold).sum()),
            "precision": p, "recall": r, "f1": 2 * p * r / (p + r) if p + r else 0.0,
            "by_band": {b: {"pairs": int(len(g)), "positives": int(g["label"].sum()),
                            "merged": int(sum(item_entity[x] == item_entity[y] for x, y in zip(g["a"], g["b"])))}
                        for b, g in labels.groupby("band")}}
