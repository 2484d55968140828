"""How the hand-checked pairs were drawn (`mgw resolve-sample`), kept so the gold set can be extended the same way.

The candidate pool does not depend on the resolver's blocking (whose completeness the gold set measures):
all cross-platform pairs whose normalized titles have rapidfuzz ratio ≥ 80 or token-set ratio ≥ 90 (a full
cross product, minutes on 2 cores), or whose synopses have TF-IDF cosine ≥ 0.3 (retitled releases). Each
pair gets the first class it fits (mgw.data.resolve.labels.CLASSES) from its features — never from a
resolver's answer — and each class is sampled to a quota, half of the movie-vs-series pairs from same-title
ones and half of the retitled ones from similar synopses (so the hard cases are not swamped by trivial
negatives). `enrich` adds more of one class with a evidence filter (the retitled positives are rare).
The sampled CSV has empty `label` and `reason` columns to fill by reading both listings.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from rapidfuzz import fuzz, process

from mgw.data.normalize import normalize_title
from mgw.data.resolve.keys import person_key, title_key


def candidate_pool(items: pd.DataFrame, workers: int = 2) -> pd.DataFrame:
    """Cross-platform pairs (i < j) from full title similarity and synopsis similarity, with their features."""
    import scipy.sparse as sp
    from sklearn.feature_extraction.text import TfidfVectorizer

    keys = items["title"].map(normalize_title).tolist()
    plat = items["platform"].to_numpy()
    found: dict[tuple[int, int], None] = {}

    def add(matrix: sp.spmatrix) -> None:
        m = sp.triu(matrix, 1).tocoo()
        for i, j in zip(m.row, m.col):
            if plat[i] != plat[j]:
                found[(int(i), int(j))] = None

    for scorer, cutoff in ((fuzz.ratio, 80), (fuzz.token_set_ratio, 90)):
        add(sp.csr_matrix(process.cdist(keys, keys, scorer=scorer, score_cutoff=cutoff, workers=workers, dtype=np.uint8)))
    tfidf = TfidfVectorizer(stop_words="english", sublinear_tf=True, min_df=2).fit_transform(items["description"].fillna(""))
    cos = (tfidf @ tfidf.T).tocsr()
    cos.data[cos.data < 0.3] = 0
    cos.eliminate_zeros()
    add(cos)
    ij = np.array(sorted(found), dtype=np.int64).reshape(-1, 2)
    return features(items, ij[:, 0], ij[:, 1], tfidf)


def features(items: pd.DataFrame, i: np.ndarray, j: np.ndarray, tfidf) -> pd.DataFrame:
    norm = items["title"].map(normalize_title).to_numpy()
    key = items["title"].map(title_key).to_numpy()
    typ, year = items["type"].to_numpy(), items["release_year"].to_numpy()
    dur = items["duration_min"].to_numpy(dtype=float)
    people = [{person_key(p) for p in list(c) + list(d)} for c, d in zip(items["cast"], items["directors"])]
    jac = [len(people[a] & people[b]) / len(people[a] | people[b]) if people[a] and people[b] else np.nan
           for a, b in zip(i, j)]
    return pd.DataFrame({
        "i": i, "j": j, "same_norm": norm[i] == norm[j], "same_key": key[i] == key[j],
        "key_ratio": [fuzz.ratio(a, b) for a, b in zip(key[i], key[j])],
        "type_a": typ[i], "type_b": typ[j], "year_gap": np.abs(year[i] - year[j]), "people_jaccard": jac,
        "runtime_gap": np.abs(dur[i] - dur[j]), "synopsis_tfidf": np.asarray(tfidf[i].multiply(tfidf[j]).sum(1)).ravel()})


def assign_class(r: pd.Series) -> str:
    """The first failure class a pool pair fits (order matters: a mixed-type pair is movie_vs_series first)."""
    if r.type_a != r.type_b:
        return "movie_vs_series"
    if r.type_a == "series" and r.year_gap > 0 and r.key_ratio >= 90:
        return "series_years"
    if r.same_key and not r.same_norm:
        return "prefix"
    if r.same_norm and (r.people_jaccard == 0 or r.runtime_gap > 10 or (r.type_a == "movie" and r.year_gap > 1)
                        or (r.type_a == "series" and r.year_gap > 0)):
        return "same_title"
    if r.type_a == "movie" and np.isnan(r.people_jaccard) and r.key_ratio >= 85:
        return "missing_cast"
    if r.key_ratio < 90:
        return "retitled"
    return "easy" if r.same_norm else "other"


def stratified_sample(pool: pd.DataFrame, per_class: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    pool = pool.assign(**{"class": [assign_class(r) for _, r in pool.iterrows()]})
    out = []
    for cls, g in pool.groupby("class"):
        n = per_class if cls != "other" else max(1, per_class * 2 // 5)
        if cls in ("movie_vs_series", "retitled"):
            strong = g[g["key_ratio"] >= 90] if cls == "movie_vs_series" else g[g["synopsis_tfidf"] >= 0.25]
            rest = g.drop(strong.index)
            a = strong.iloc[rng.permutation(len(strong))[:n // 2]]
            out += [a, rest.iloc[rng.permutation(len(rest))[:n - len(a)]]]
        else:
            out.append(g.iloc[rng.permutation(len(g))[:n]])
    return pd.concat(out).sample(frac=1, random_state=seed).reset_index(drop=True)


def enrich(pool: pd.DataFrame, cls: str, n: int, seed: int, exclude: set[tuple[int, int]]) -> pd.DataFrame:
    """`n` more pairs of class `cls` with evidence of being one title (shared people or TF-IDF ≥ 0.35)."""
    pool = pool.assign(**{"class": [assign_class(r) for _, r in pool.iterrows()]})
    strong = pool[(pool["class"] == cls) & ((pool["people_jaccard"] > 0) | (pool["synopsis_tfidf"] >= 0.35))]
    strong = strong[[(a, b) not in exclude for a, b in zip(strong["i"], strong["j"])]]
    return strong.iloc[np.random.default_rng(seed).permutation(len(strong))[:n]].reset_index(drop=True)


def to_label_sheet(items: pd.DataFrame, sample: pd.DataFrame) -> pd.DataFrame:
    """The CSV to fill by hand (columns of mgw.data.resolve.labels.COLUMNS, label/reason/split empty)."""
    ids, titles = items["id"].to_numpy(), items["title"].to_numpy()
    return pd.DataFrame({"a": ids[sample["i"]], "b": ids[sample["j"]], "title_a": titles[sample["i"]],
                         "title_b": titles[sample["j"]], "class": sample["class"].to_numpy(),
                         "label": "", "reason": "", "split": "", "sample": "stratified"})
