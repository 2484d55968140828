"""User interactions for the reranker: simulated users over the catalog, or MovieLens linked to it.

Both sources yield the `Interaction` columns of mgw/data/schema.py (user_id, entity_id, event, timestamp,
rating) and an item table (entity_id + 384-d embedding) that covers every interacted item. `temporal_split`
then cuts each user's history by time so that later events are never seen in training.
"""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import pandas as pd

from mgw.errors import DataError

log = logging.getLogger(__name__)

INTERACTION_COLUMNS = ["user_id", "entity_id", "event", "timestamp", "rating"]
# Seed §4.3.2: watch boosts, skip lowers, a rating ≥ 4 is a strong positive.
POSITIVE_RATING = 4.0


def is_positive(events: pd.DataFrame) -> np.ndarray:
    """A positive signal: a watch, or a rating of at least 4 stars."""
    rating = events["rating"].to_numpy(dtype=float, na_value=np.nan)
    return ((events["event"] == "watch").to_numpy()
            | ((events["event"] == "rate").to_numpy() & (np.nan_to_num(rating, nan=0.0) >= POSITIVE_RATING)))


def event_weight(events: pd.DataFrame) -> np.ndarray:
    """Weight of each event in a user's preference vector (seed §4.3.2): watch +1, skip −0.5, rate (r−3)/2."""
    rating = np.nan_to_num(events["rating"].to_numpy(dtype=float, na_value=np.nan), nan=3.0)
    ev = events["event"].to_numpy()
    return np.where(ev == "watch", 1.0, np.where(ev == "skip", -0.5, np.clip((rating - 3.0) / 2.0, -1, 1)))


@dataclass
class ItemTable:
    """Items a ranker can return: ids, unit-norm embeddings, and the metadata baselines use."""

    ids: list[str]
    embeddings: np.ndarray  # float32 [n, d], unit norm
    genres: list[list[str]]
    release_year: np.ndarray  # float, NaN when unknown
    in_catalog: np.ndarray  # bool: streamable on some platform (False → rental / not available)

    def __post_init__(self) -> None:
        n = len(self.ids)
        if self.embeddings.ndim != 2 or self.embeddings.shape[0] != n:
            raise DataError(f"item embeddings have shape {self.embeddings.shape}, expected ({n}, d)")
        if len(set(self.ids)) != n:
            raise DataError("item ids are not unique")
        if not np.isfinite(self.embeddings).all():
            raise DataError("item embeddings hold NaN or inf")

    @property
    def index(self) -> dict[str, int]:
        return {e: i for i, e in enumerate(self.ids)}


def catalog_items(catalog: pd.DataFrame, embeddings: np.ndarray, embedding_ids: Sequence[str]) -> ItemTable:
    """The catalog as an ItemTable, rows ordered as the embedding file."""
    if len(embedding_ids) != len(embeddings):
        raise DataError(f"{len(embedding_ids)} embedding ids for {len(embeddings)} embedding rows")
    cat = catalog.set_index("entity_id")
    missing = [e for e in embedding_ids if e not in cat.index]
    if missing:
        raise DataError(f"{len(missing)} embedding ids not in the catalog, e.g. {missing[:3]}")
    cat = cat.loc[list(embedding_ids)]
    years = pd.to_numeric(cat["release_year"], errors="coerce").to_numpy(dtype=float)
    return ItemTable(ids=list(embedding_ids), embeddings=_unit(np.asarray(embeddings, dtype=np.float32)),
                     genres=[list(g) if g is not None else [] for g in cat["genres"]],
                     release_year=years, in_catalog=np.ones(len(cat), dtype=bool))


def _unit(x: np.ndarray) -> np.ndarray:
    n = np.linalg.norm(x, axis=1, keepdims=True)
    return (x / np.where(n == 0, 1, n)).astype(np.float32)


# --------------------------------------------------------------------------- simulated users
def simulate_users(items: ItemTable, n_users: int, events_per_user: int, seed: int,
                   n_factors: int = 8, browse: int = 50) -> pd.DataFrame:
    """Simulated viewers (seed §1.3.2 syntheticUsers) with latent tastes, producing watch/skip/rate events.

    Each user has a Dirichlet preference over genres, a taste vector in content space, and a hidden
    collaborative factor (shared across users, invisible in the content embeddings), so a good ranker needs
    both content similarity and other users' behaviour. At each step the user browses `browse` titles
    (drawn by popularity), picks the one with the best noisy affinity, then watches (and sometimes rates)
    it when the affinity is high and skips it otherwise. Events are time-ordered per user.
    """
    if n_users < 1 or events_per_user < 1:
        raise DataError("n_users and events_per_user must be ≥ 1")
    rng = np.random.default_rng(seed)
    n = len(items.ids)
    genre_names = sorted({g for gs in items.genres for g in gs}) or ["other"]
    gidx = {g: j for j, g in enumerate(genre_names)}
    item_genre = np.zeros((n, len(genre_names)), dtype=np.float32)
    for i, gs in enumerate(items.genres):
        for g in gs or ["other"]:
            item_genre[i, gidx.get(g, 0)] = 1.0
    item_genre /= np.maximum(item_genre.sum(1, keepdims=True), 1)
    popularity = rng.zipf(1.6, size=n).astype(float)
    pop_p = np.minimum(popularity, 200) / np.minimum(popularity, 200).sum()
    item_factor = rng.normal(size=(n, n_factors)).astype(np.float32)
    rows = []
    t0 = 1_600_000_000
    for u in range(n_users):
        genre_pref = rng.dirichlet(np.full(len(genre_names), 0.3))
        anchor = items.embeddings[rng.integers(n)]
        user_factor = rng.normal(size=n_factors).astype(np.float32)
        t = t0 + int(rng.integers(0, 86_400 * 30))
        for _ in range(events_per_user):
            cand = rng.choice(n, size=min(browse, n), replace=False, p=pop_p)
            affinity = (3.0 * item_genre[cand] @ genre_pref + 2.0 * items.embeddings[cand] @ anchor
                        + 0.5 * item_factor[cand] @ user_factor)
            noisy = affinity + rng.gumbel(size=len(cand)) * 0.5
            j = int(np.argmax(noisy))
            i, a = int(cand[j]), float(affinity[j])
            t += int(rng.integers(600, 86_400 * 3))
            z = (a - 1.0) / 1.0
            if rng.random() < 1 / (1 + np.exp(-z)):
                rows.append((f"sim:u{u}", items.ids[i], "watch", t, np.nan))
                if rng.random() < 0.3:
                    rating = float(np.clip(np.round(3 + 1.5 * np.tanh(z) + rng.normal(0, 0.5)), 1, 5))
                    rows.append((f"sim:u{u}", items.ids[i], "rate", t + 60, rating))
            else:
                rows.append((f"sim:u{u}", items.ids[i], "skip", t, np.nan))
    return pd.DataFrame(rows, columns=INTERACTION_COLUMNS)


# --------------------------------------------------------------------------- MovieLens
_YEAR = re.compile(r"\s*\((\d{4})\)\s*$")
_ARTICLE = re.compile(r"^(.*), (The|A|An|Les|La|Le|L'|Il|Das|Der|Die|El)$", re.IGNORECASE)
_ALT = re.compile(r"\s*\([^)]*\)\s*$")
GENRE_MAP = {"sci-fi": "scifi", "children": "kids", "(no genres listed)": "other", "film-noir": "crime",
             "imax": "other", "musical": "music"}


def parse_movielens_title(raw: str) -> tuple[str, int | None]:
    """'Matrix, The (1999)' → ('The Matrix', 1999); drops a trailing alternate title in parentheses."""
    raw = raw.strip()
    m = _YEAR.search(raw)
    year = int(m.group(1)) if m else None
    title = raw[:m.start()] if m else raw
    while _ALT.search(title):  # "City of Lost Children, The (Cité des enfants perdus, La)"
        title = _ALT.sub("", title)
    a = _ARTICLE.match(title.strip())
    if a:
        title = f"{a.group(2)} {a.group(1)}"
    return title.strip(), year


def movielens_genres(raw: str) -> list[str]:
    out = []
    for g in str(raw).split("|"):
        g = GENRE_MAP.get(g.strip().lower(), g.strip().lower())
        if g and g not in out:
            out.append(g)
    return out


def link_movielens(movies: pd.DataFrame, catalog: pd.DataFrame, title_threshold: float = 95.0,
                   year_tolerance: int = 1) -> pd.DataFrame:
    """movieId → entity_id by normalized (title, year): exact first, then rapidfuzz within year ± tolerance.

    Returns movies with columns title_clean, year, entity_id (None when unmatched) and match_kind.
    """
    from rapidfuzz import fuzz, process

    from mgw.data.normalize import normalize_title

    cat = catalog[catalog["type"] == "movie"] if "type" in catalog else catalog
    cat_year = pd.to_numeric(cat["release_year"], errors="coerce")
    cat_norm = [normalize_title(t) for t in cat["title"]]
    exact: dict[tuple[str, int], str] = {}
    by_year: dict[int, list[tuple[str, str]]] = {}
    for eid, nt, y in zip(cat["entity_id"], cat_norm, cat_year):
        if pd.isna(y):
            continue
        exact.setdefault((nt, int(y)), eid)
        by_year.setdefault(int(y), []).append((nt, eid))
    out = movies.copy()
    parsed = [parse_movielens_title(t) for t in out["title"]]
    out["title_clean"] = [p[0] for p in parsed]
    out["year"] = [p[1] for p in parsed]
    eids, kinds = [], []
    for title, year in parsed:
        nt = normalize_title(title)
        if year is not None and (nt, year) in exact:
            eids.append(exact[(nt, year)])
            kinds.append("exact")
            continue
        pool = [] if year is None else [c for y in range(year - year_tolerance, year + year_tolerance + 1)
                                        for c in by_year.get(y, [])]
        hit = process.extractOne(nt, [c[0] for c in pool], scorer=fuzz.ratio,
                                 score_cutoff=title_threshold) if pool and nt else None
        if hit:
            eids.append(pool[hit[2]][1])
            kinds.append("fuzzy")
        else:
            eids.append(None)
            kinds.append("unmatched")
    out["entity_id"] = eids
    out["match_kind"] = kinds
    return out


def load_movielens(ml_dir: str | Path, catalog_items_: ItemTable, catalog: pd.DataFrame,
                   embed_fn: Callable[[list[str]], np.ndarray], title_threshold: float = 95.0,
                   year_tolerance: int = 1) -> tuple[pd.DataFrame, ItemTable, dict]:
    """MovieLens ratings as interactions over catalog entities plus unmatched movies ("ml:<movieId>").

    Unmatched movies get an embedding of "<title>. Genres: <genres>" from `embed_fn` (the MiniLM Embedder).
    Returns (interactions, items = catalog ∪ unmatched movies, link statistics).
    """
    ml_dir = Path(ml_dir)
    for name in ("movies.csv", "ratings.csv"):
        if not (ml_dir / name).exists():
            raise FileNotFoundError(f"MovieLens file {ml_dir / name} not found (see data README)")
    movies = pd.read_csv(ml_dir / "movies.csv")
    ratings = pd.read_csv(ml_dir / "ratings.csv")
    if not {"userId", "movieId", "rating", "timestamp"} <= set(ratings.columns):
        raise DataError(f"{ml_dir / 'ratings.csv'} lacks userId,movieId,rating,timestamp")
    linked = link_movielens(movies, catalog, title_threshold, year_tolerance)
    unmatched = linked[linked["entity_id"].isna()]
    texts = [f"{t}. Genres: {', '.join(movielens_genres(g))}" for t, g in zip(unmatched["title_clean"],
                                                                              unmatched["genres"])]
    log.info("MovieLens: %d movies, %d linked to the catalog, embedding %d unmatched", len(movies),
             len(movies) - len(unmatched), len(unmatched))
    new_emb = np.asarray(embed_fn(texts), dtype=np.float32) if texts else np.zeros(
        (0, catalog_items_.embeddings.shape[1]), np.float32)
    if new_emb.shape != (len(texts), catalog_items_.embeddings.shape[1]):
        raise DataError(f"embed_fn returned {new_emb.shape}, expected ({len(texts)}, "
                        f"{catalog_items_.embeddings.shape[1]})")
    ml_ids = [f"ml:{m}" for m in unmatched["movieId"]]
    items = ItemTable(
        ids=catalog_items_.ids + ml_ids,
        embeddings=np.vstack([catalog_items_.embeddings, _unit(new_emb)]),
        genres=catalog_items_.genres + [movielens_genres(g) for g in unmatched["genres"]],
        release_year=np.concatenate([catalog_items_.release_year,
                                     pd.to_numeric(unmatched["year"], errors="coerce").to_numpy(float)]),
        in_catalog=np.concatenate([catalog_items_.in_catalog, np.zeros(len(ml_ids), bool)]))
    to_entity = dict(zip(linked["movieId"], linked["entity_id"]))
    to_entity.update(dict(zip(unmatched["movieId"], ml_ids)))
    inter = pd.DataFrame({
        "user_id": "ml:" + ratings["userId"].astype(str),
        "entity_id": ratings["movieId"].map(to_entity),
        "event": "rate",
        "timestamp": ratings["timestamp"].astype("int64"),
        "rating": ratings["rating"].astype(float),
    })
    # Several MovieLens movies can resolve to one entity: keep the user's latest rating of it.
    inter = inter.sort_values(["user_id", "timestamp"], kind="stable").drop_duplicates(
        ["user_id", "entity_id"], keep="last").reset_index(drop=True)
    stats = {"movies": int(len(movies)), "exact": int((linked["match_kind"] == "exact").sum()),
             "fuzzy": int((linked["match_kind"] == "fuzzy").sum()), "unmatched": int(len(unmatched)),
             "ratings": int(len(ratings)), "interactions": int(len(inter)),
             "users": int(inter["user_id"].nunique())}
    return inter[INTERACTION_COLUMNS], items, stats


# --------------------------------------------------------------------------- split
def temporal_split(events: pd.DataFrame, val_frac: float = 0.1, test_frac: float = 0.2,
                   min_events: int = 5) -> pd.DataFrame:
    """Per user, by time: the earliest events are train, then val, the latest test.

    Adds a `split` column (train|val|test). Users with fewer than `min_events` events are train-only.
    Ties in timestamp keep input order, so the split is deterministic.
    """
    if not 0 <= val_frac < 1 or not 0 < test_frac < 1 or val_frac + test_frac >= 1:
        raise DataError(f"bad split fractions val={val_frac} test={test_frac}")
    missing = set(INTERACTION_COLUMNS) - set(events.columns)
    if missing:
        raise DataError(f"interactions lack columns {sorted(missing)}")
    df = events.sort_values(["user_id", "timestamp"], kind="stable").reset_index(drop=True)
    pos = df.groupby("user_id").cumcount().to_numpy()
    size = df.groupby("user_id")["user_id"].transform("size").to_numpy()
    n_test = np.ceil(size * test_frac).astype(int)
    n_val = np.ceil(size * val_frac).astype(int)
    split = np.where(pos >= size - n_test, "test", np.where(pos >= size - n_test - n_val, "val", "train"))
    split[size < min_events] = "train"
    df["split"] = split
    return df


def global_temporal_split(events: pd.DataFrame, val_frac: float = 0.1, test_frac: float = 0.2) -> pd.DataFrame:
    """One cut time for everyone (quantiles of all timestamps): events before the val cut are train, then
    val, from the test cut on test. No rater's future reaches anyone's training, which a per-user split allows
    (user A's test period can lie before user B's training events). Adds `split`; ties go to the later split."""
    cuts = global_cut_times(events, val_frac, test_frac)
    df = events.sort_values(["user_id", "timestamp"], kind="stable").reset_index(drop=True)
    t = df["timestamp"].to_numpy()
    df["split"] = np.where(t >= cuts["test"], "test", np.where(t >= cuts["val"], "val", "train"))
    return df


def global_cut_times(events: pd.DataFrame, val_frac: float, test_frac: float) -> dict[str, int]:
    """The val and test cut timestamps: the (1 − val − test) and (1 − test) quantiles of event times."""
    if not 0 <= val_frac < 1 or not 0 < test_frac < 1 or val_frac + test_frac >= 1:
        raise DataError(f"bad split fractions val={val_frac} test={test_frac}")
    missing = set(INTERACTION_COLUMNS) - set(events.columns)
    if missing:
        raise DataError(f"interactions lack columns {sorted(missing)}")
    if len(events) == 0:
        raise DataError("no interactions to split")
    t = np.sort(events["timestamp"].to_numpy(dtype=np.int64))
    n = len(t)
    test = int(t[min(n - 1, int(np.floor(n * (1 - test_frac))))])
    val = int(t[min(n - 1, int(np.floor(n * (1 - test_frac - val_frac))))])
    return {"val": val, "test": max(test, val)}


SPLITS = {"per_user": temporal_split, "global": global_temporal_split}


def split_events(events: pd.DataFrame, kind: str, val_frac: float, test_frac: float) -> pd.DataFrame:
    """`kind` per_user | global (see the two functions)."""
    if kind not in SPLITS:
        raise DataError(f"unknown split {kind!r} (per_user|global)")
    return SPLITS[kind](events, val_frac, test_frac)
