"""Tables the catalog report shows: counts per platform, genre mix, cross-platform overlap, example merges,
and a 2-D map of the embeddings. Pure functions over the pipeline's files, so the notebook only renders."""
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

        x = PCA(n_components=min(50, x.shape[1]), random_state=seed).fit_transform(x)
        xy = TSNE(n_components=2, init="pca", random_state=seed, perplexity=min(30, max(5, len(x) // 20))).fit_transform(x)
    else:
        xy = PCA(n_components=2, random_state=seed).fit_transform(x)
    sub = catalog.iloc[idx]
    return pd.DataFrame({"x": xy[:, 0], "y": xy[:, 1], "genre": sub["genres"].map(lambda g: g[0] if len(g) else "other").values,
                         "title": sub["title"].values})
