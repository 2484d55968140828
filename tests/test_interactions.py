import numpy as np
import pandas as pd
import pytest

from mgw.data.interactions import (catalog_items, link_movielens, load_movielens, parse_movielens_title,
                                   simulate_users, temporal_split)
from mgw.errors import DataError
from mgw.rerank.toy import write_toy_catalog


@pytest.fixture
def toy(tmp_path):
    d = write_toy_catalog(tmp_path, n_items=120, dim=16)
    cat = pd.read_parquet(d / "catalog.parquet")
    import json
    return cat, catalog_items(cat, np.load(d / "embeddings.npy"), json.loads((d / "embedding_ids.json").read_text()))


@pytest.mark.parametrize("raw,title,year", [
    ("Toy Story (1995)", "Toy Story", 1995),
    ("Matrix, The (1999)", "The Matrix", 1999),
    ("City of Lost Children, The (Cité des enfants perdus, La) (1995)", "The City of Lost Children", 1995),
    ("No Year Movie", "No Year Movie", None),
])
def test_parse_movielens_title(raw, title, year):
    assert parse_movielens_title(raw) == (title, year)


def test_simulate_users_seeded_and_valid(toy):
    _, items = toy
    a = simulate_users(items, 10, 15, seed=3)
    b = simulate_users(items, 10, 15, seed=3)
    pd.testing.assert_frame_equal(a, b)
    assert set(a["entity_id"]) <= set(items.ids)
    assert set(a["event"]) <= {"watch", "skip", "rate"}
    assert a.groupby("user_id")["timestamp"].apply(lambda s: s.is_monotonic_increasing).all()
    assert not simulate_users(items, 10, 15, seed=4).equals(a)


def test_temporal_split_orders_time_per_user(toy):
    _, items = toy
    ev = temporal_split(simulate_users(items, 12, 20, seed=1), val_frac=0.1, test_frac=0.2)
    for _, g in ev.groupby("user_id"):
        t = {s: g.loc[g.split == s, "timestamp"] for s in ("train", "val", "test")}
        assert len(t["test"]) and len(t["train"])
        assert t["train"].max() <= t["val"].min() <= t["val"].max() <= t["test"].min()
    with pytest.raises(DataError):
        temporal_split(ev, val_frac=0.5, test_frac=0.6)


def test_link_and_load_movielens(tmp_path, toy):
    cat, items = toy
    cat = cat.copy()
    cat.loc[0, ["title", "release_year"]] = ["The Matrix", 1999]
    cat.loc[1, ["title", "release_year"]] = ["Amelie", 2001]
    movies = pd.DataFrame({"movieId": [1, 2, 3], "title": ["Matrix, The (1999)", "Amelie (2002)",
                                                            "Unknown Film (1970)"],
                           "genres": ["Action|Sci-Fi", "Comedy|Romance", "Drama"]})
    linked = link_movielens(movies, cat)
    assert list(linked["match_kind"]) == ["exact", "fuzzy", "unmatched"]
    assert linked["entity_id"].iloc[0] == cat.entity_id.iloc[0]
    ml = tmp_path / "ml"
    ml.mkdir()
    movies.to_csv(ml / "movies.csv", index=False)
    pd.DataFrame({"userId": [1, 1, 1, 2], "movieId": [1, 2, 3, 3], "rating": [5.0, 3.0, 4.5, 2.0],
                  "timestamp": [10, 20, 30, 40]}).to_csv(ml / "ratings.csv", index=False)
    items_cat = catalog_items(cat, items.embeddings, items.ids)
    calls = []

    def embed(texts):
        calls.append(texts)
        return np.ones((len(texts), 16), np.float32)

    inter, all_items, stats = load_movielens(ml, items_cat, cat, embed)
    assert calls == [["Unknown Film. Genres: drama"]]
    assert "ml:3" in all_items.ids and not all_items.in_catalog[all_items.index["ml:3"]]
    assert stats["exact"] == 1 and stats["fuzzy"] == 1 and stats["unmatched"] == 1
    assert len(inter) == 4 and set(inter["event"]) == {"rate"}
    with pytest.raises(FileNotFoundError):
        load_movielens(tmp_path / "nope", items_cat, cat, embed)


def test_movielens_real_link_rate(real_data_dir):
    movies = pd.read_csv(real_data_dir / "movielens" / "ml-latest-small" / "movies.csv")
    parsed = [parse_movielens_title(t) for t in movies["title"]]
    assert sum(y is not None for _, y in parsed) > 0.99 * len(movies)
