"""Tables the catalog report shows: counts per platform, genre mix, cross-platform overlap, the resolver's
engines side by side, example merges, and a 2-D map of the embeddings. Pure functions over the pipeline's
files, so the notebook only renders."""
from __future__ import annotations

from itertools import combinations

import numpy as np
import pandas as pd

from mgw.config import PLATFORMS


def platform_counts(catalog: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for p in PLATFORMS:
        on = catalog["platforms"].map(lambda ps, p=p: p in ps)
        sub = catalog[on]
        rows.append({"platform": p, "titles": int(on.sum()), "movies": int((sub["type"] == "movie").sum()),
                     "series": int((sub["type"] == "series").sum()),
                     "also_elsewhere": int((sub["platforms"].map(len) > 1).sum())})
    return pd.DataFrame(rows).set_index("platform")


def genre_distribution(catalog: pd.DataFrame, top: int = 20) -> pd.DataFrame:
    """Share of each platform's titles per canonical genre (a title counts once per genre)."""
    exploded = catalog[["platforms", "genres"]].explode("platforms").explode("genres")
    table = pd.crosstab(exploded["genres"], exploded["platforms"])
    sizes = platform_counts(catalog)["titles"]
    share = table.div(sizes.reindex(table.columns), axis=1)
    return share.loc[table.sum(axis=1).sort_values(ascending=False).index[:top]]


def overlap_matrix(catalog: pd.DataFrame) -> pd.DataFrame:
    """Titles available on both platforms of each pair."""
    m = pd.DataFrame(0, index=list(PLATFORMS), columns=list(PLATFORMS))
    for ps in catalog["platforms"]:
        for p in ps:
            m.loc[p, p] += 1
        for a, b in combinations(ps, 2):
            m.loc[a, b] += 1
            m.loc[b, a] += 1
    return m


def _ci(x: dict, key: str) -> str:
    lo, hi = x.get("ci95", {}).get(key, [float("nan"), float("nan")])
    return f"{x[key]:.3f} [{lo:.3f}, {hi:.3f}]"


def engine_table(resolve_metrics: dict) -> pd.DataFrame:
    """One row per resolve engine: its evaluation (gold P/R/F1 with 95 % CIs, or simulated truth), merges, time."""
    ev, rows = resolve_metrics["evaluation"], []
    for name, run in resolve_metrics["engines"].items():
        e = ev["engines"][name]
        row = {"engine": name, "threshold": round(run["threshold"], 4), "merges": run["merges"],
               "movie–series merges": run["movie_series_merges"],
               "fit + score + cluster (s)": round(sum(run["seconds"][k] for k in ("fit", "score", "cluster_and_entities")), 1)}
        if "gold" in e:
            g = e["gold"]
            row |= {"gold precision": _ci(g, "precision"), "gold recall": _ci(g, "recall"), "gold F1": _ci(g, "f1"),
                    "silver F1": round(e["silver"].get("f1", float("nan")), 3)}
        else:
            row |= {"precision": round(e["precision"], 4), "recall": round(e["recall"], 4), "F1": round(e["f1"], 4),
                    "series recall": round(e["recall_by_type"].get("series", float("nan")), 4)}
        rows.append(row)
    return pd.DataFrame(rows).set_index("engine")


def class_table(resolve_metrics: dict) -> pd.DataFrame:
    """Gold precision/recall per failure class and engine (real catalogs only)."""
    rows = []
    for name, e in resolve_metrics["evaluation"]["engines"].items():
        for cls, x in e.get("gold", {}).get("by_class", {}).items():
            rows.append({"class": cls, "engine": name, "pairs": x["pairs"], "one title": x["positives"],
                         "precision": round(x["precision"], 3), "recall": round(x["recall"], 3),
                         "recall 95% CI": [round(v, 3) for v in x["ci95"].get("recall", [])], "fp": x["fp"], "fn": x["fn"]})
    return pd.DataFrame(rows).set_index(["class", "engine"]) if rows else pd.DataFrame()


def weights_table(resolve_metrics: dict) -> pd.DataFrame:
    """Per comparison level, the weight each engine gives it: mgw's log-odds, splink's log2 Bayes factor."""
    cols = {}
    for name, run in resolve_metrics["engines"].items():
        model = run.get("model", {})
        w = model.get("weights") or model.get("log2_bayes_factors") or {}
        cols[f"{name} ({'log-odds' if 'weights' in model else 'log2 BF'})"] = {
            (c, lv): round(v, 2) for c, levels in w.items() for lv, v in levels.items()}
    return pd.DataFrame(cols)


def threshold_curve(gold_rows: pd.DataFrame, engine: str, points: int = 50) -> pd.DataFrame:
    """Pair-level precision and recall of an engine's probabilities on the gold pairs, per threshold."""
    p, y = gold_rows[f"{engine}_probability"].to_numpy(), gold_rows["label"].to_numpy() == 1
    out = []
    for t in np.quantile(p, np.linspace(0, 1, points)):
        pred = p >= t
        tp = int((pred & y).sum())
        out.append({"threshold": float(t), "precision": tp / max(1, pred.sum()), "recall": tp / max(1, y.sum())})
    return pd.DataFrame(out)


def example_merges(merges: pd.DataFrame, items: pd.DataFrame, n: int = 10, seed: int = 0) -> pd.DataFrame:
    """A seeded sample of merges (different titles first: they are the interesting ones), both titles and years
    side by side with the match probability and the evidence that decided it."""
    if merges.empty:
        return merges
    title = items.set_index("id")["title"]
    year = items.set_index("id")["release_year"]
    fuzzy = merges[merges["kind"] == "fuzzy"]
    pick = fuzzy.sample(min(n, len(fuzzy)), random_state=seed) if len(fuzzy) else merges.head(n)
    return pd.DataFrame({"title_a": pick["a"].map(title), "year_a": pick["a"].map(year),
                         "title_b": pick["b"].map(title), "year_b": pick["b"].map(year),
                         "probability": pick["probability"].round(3), "evidence": pick["evidence"]})


def embedding_map(vectors: np.ndarray, catalog: pd.DataFrame, max_points: int = 3000, seed: int = 0,
                  method: str = "tsne") -> pd.DataFrame:
    """2-D coordinates (t-SNE after PCA-50, or PCA alone) of a seeded sample, with each title's first genre."""
    from sklearn.decomposition import PCA

    rng = np.random.default_rng(seed)
    idx = np.sort(rng.permutation(len(vectors))[:max_points])
    x = vectors[idx]
    if method == "tsne":
        from sklearn.manifold import TSNE
        from threadpoolctl import threadpool_limits

        x = PCA(n_components=min(50, x.shape[1]), random_state=seed).fit_transform(x)
        with threadpool_limits(1):  # t-SNE's OpenMP threads spin on a shared 2-core machine: 1 thread was ~3x faster
            xy = TSNE(n_components=2, init="pca", random_state=seed,
                      perplexity=min(30, max(5, len(x) // 20))).fit_transform(x)
    else:
        xy = PCA(n_components=2, random_state=seed).fit_transform(x)
    sub = catalog.iloc[idx]
    return pd.DataFrame({"x": xy[:, 0], "y": xy[:, 1], "genre": sub["genres"].map(lambda g: g[0] if len(g) else "other").values,
                         "title": sub["title"].values})
