"""Availability model, bitmap store, and the differential test against XGI (the reference library)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mgw.config import PLATFORMS
from mgw.data.normalize import GENRES, RATINGS
from mgw.errors import DataError, DuplicateIdError, UnknownIdError, UnknownPlatformError
from mgw.hypergraph.availability import FOOTPRINT, ModelledAvailability, TableAvailability, region_code
from mgw.hypergraph.bench import SEED_QUERIES, random_queries, simulated_store
from mgw.hypergraph.expr import compile_query
from mgw.hypergraph.reference import XgiReference
from mgw.hypergraph.store import HypergraphStore
from mgw.query import canonical

REGIONS = ["US", "CA", "GB", "AU", "DE", "FR", "IN", "JP", "BR", "MX"]


def small_catalog(n: int = 300, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        k = 1 + (rng.random() < 0.15) + (rng.random() < 0.05)
        rows.append({
            "entity_id": f"ent:t{i}", "title": f"Title {i}", "type": "movie" if rng.random() < 0.7 else "series",
            "release_year": int(rng.integers(1950, 2022)) if rng.random() < 0.95 else None,
            "rating": str(rng.choice(RATINGS)) if rng.random() < 0.9 else None,
            "genres": sorted({str(g) for g in rng.choice(GENRES[:12], rng.integers(1, 4))}),
            "countries": [str(c) for c in rng.choice(REGIONS + ["ES", "KR"], rng.integers(0, 3), replace=False)],
            "platforms": sorted({str(p) for p in rng.choice(PLATFORMS, k)}),
        })
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def built():
    cat = small_catalog()
    av = ModelledAvailability(REGIONS, home_bonus=0.3, seed=7).rows(cat)
    store = HypergraphStore.from_catalog(cat, av, REGIONS)
    return cat, av, store, XgiReference(store)


# ------------------------------------------------------------------ availability model
def test_model_is_seeded_and_respects_footprint(built):
    cat, av, _, _ = built
    again = ModelledAvailability(REGIONS, home_bonus=0.3, seed=7).rows(cat.sample(frac=1, random_state=1))
    pd.testing.assert_frame_equal(av.reset_index(drop=True), again.reset_index(drop=True))
    other = ModelledAvailability(REGIONS, home_bonus=0.3, seed=8).rows(cat)
    assert not av.equals(other)
    assert set(av.loc[av.platform == "hulu", "region"]) == {"US"}  # Hulu streams only in the US
    for p in PLATFORMS:
        assert set(av.loc[av.platform == p, "region"]) <= set(FOOTPRINT[p])
    listed = {(e, p) for e, ps in zip(cat.entity_id, cat.platforms) for p in ps}
    assert {(e, p) for e, p in zip(av.entity_id, av.platform)} <= listed
    assert {(e, p) for e, p in listed} == {(e, p) for e, p, r in av.itertuples(index=False) if r == "US"}


def test_home_bonus_raises_home_availability():
    cat = small_catalog(2000, seed=3)
    cat["countries"] = [["FR"] if i % 2 else ["ES"] for i in range(len(cat))]
    cat["platforms"] = [["prime"]] * len(cat)
    av = ModelledAvailability(REGIONS, home_bonus=0.4, seed=1).rows(cat)
    in_fr = set(av.loc[av.region == "FR", "entity_id"])
    home = cat.entity_id[cat.countries.map(lambda c: c == ["FR"])]
    away = cat.entity_id[cat.countries.map(lambda c: c == ["ES"])]
    rate_home, rate_away = home.isin(in_fr).mean(), away.isin(in_fr).mean()
    assert rate_home == pytest.approx(0.75, abs=0.05) and rate_away == pytest.approx(0.35, abs=0.05)


def test_region_codes_accept_uk_and_reject_unknown():
    assert region_code("uk") == "GB" and region_code("us") == "US"
    with pytest.raises(DataError):
        region_code("XX")
    with pytest.raises(DataError):
        region_code("Canada")


def test_table_availability_replaces_model(tmp_path, built):
    cat = built[0]
    path = tmp_path / "avail.csv"
    pd.DataFrame({"entity_id": ["ent:t0", "ent:t0", "ent:t1", "ent:unknown"],
                  "platform": ["netflix", "netflix", "hulu", "prime"], "region": ["UK", "US", "US", "US"]}
                 ).to_csv(path, index=False)
    rows = TableAvailability(path).rows(cat)
    assert sorted(map(tuple, rows.values.tolist())) == [("ent:t0", "netflix", "GB"), ("ent:t0", "netflix", "US"),
                                                        ("ent:t1", "hulu", "US")]
    store = HypergraphStore.from_catalog(cat, rows, REGIONS)
    assert store.availability("ent:t0")["netflix"] == ["US", "GB"]
    # listed on a platform with no region rows: the edge exists with an empty region set
    assert "ent:t2" in set(store.query(["platform", cat.platforms[2][0]]))
    bad = tmp_path / "bad.csv"
    pd.DataFrame({"entity_id": ["ent:t0"], "platform": ["peacock"], "region": ["US"]}).to_csv(bad, index=False)
    with pytest.raises(UnknownPlatformError):
        TableAvailability(bad).rows(cat)


# ------------------------------------------------------------------ store: operators and the NOT universe
def test_each_operator_against_plain_sets(built):
    cat, av, store, _ = built
    on = lambda p, r: {e for e, q, x in av.itertuples(index=False) if q == p and x == r}  # noqa: E731
    known_gb = set(av.loc[av.region == "GB", "entity_id"])
    assert set(store.query(["and", ["avail", "netflix", "US"], ["avail", "prime", "US"]])) == \
        on("netflix", "US") & on("prime", "US")
    assert set(store.query(["or", ["avail", "disney", "CA"], ["avail", "hulu", "CA"]])) == on("disney", "CA")
    not_netflix_gb = set(store.query(compile_query(canonical({"platforms": {"none": ["netflix"]}, "regions": ["GB"]}))))
    assert not_netflix_gb == known_gb - on("netflix", "GB")  # universe: titles known in GB, not the catalog
    assert not_netflix_gb < set(cat.entity_id) - on("netflix", "GB")
    comedies = set(cat.entity_id[cat.genres.map(lambda g: "comedy" in g)])
    assert set(store.query(["genre", "comedy"])) == comedies
    assert set(store.query(["not", ["genre", "comedy"]])) == set(cat.entity_id) - comedies
    y = pd.to_numeric(cat.release_year)
    assert set(store.query(["year", 1990, 1999])) == set(cat.entity_id[(y >= 1990) & (y <= 1999)])
    assert set(store.query(["year", None, 1960])) == set(cat.entity_id[y <= 1960])
    assert set(store.query(["type", "series"])) == set(cat.entity_id[cat.type == "series"])
    assert store.count(["genre", "no-such-genre"]) == 0


def test_bad_expressions_raise(built):
    store = built[2]
    with pytest.raises(UnknownPlatformError):
        store.query(["avail", "peacock", "US"])
    with pytest.raises(DataError):
        store.query(["avail", "netflix", "ZZ"])
    with pytest.raises(DataError):
        store.query(["xor", ["all"]])
    with pytest.raises(DataError):
        store.query(["and"])
    with pytest.raises(UnknownIdError):
        store.availability("ent:nope")


def test_duplicate_ids_and_unknown_availability_rejected(built):
    cat, av, _, _ = built
    with pytest.raises(DuplicateIdError):
        HypergraphStore.from_catalog(pd.concat([cat, cat.iloc[:1]]), av, REGIONS)
    extra = pd.concat([av, pd.DataFrame({"entity_id": ["ent:zz"], "platform": ["netflix"], "region": ["US"]})])
    with pytest.raises(UnknownIdError):
        HypergraphStore.from_catalog(cat, extra, REGIONS)


# ------------------------------------------------------------------ differential test vs XGI
def test_random_parsed_queries_match_xgi(built):
    _, _, store, ref = built
    queries = random_queries(250, REGIONS, seed=11, genres=list(GENRES[:12])) + \
        [canonical(q) for q in SEED_QUERIES.values()]
    nonempty = 0
    for q in queries:
        e = compile_query(q)
        got = set(store.query(e))
        assert got == ref.evaluate(e), q
        nonempty += bool(got)
    assert nonempty > 60  # the comparison is not vacuous


def _leaf():
    return st.one_of(
        st.builds(lambda p, r: ["avail", p, r], st.sampled_from(PLATFORMS), st.sampled_from(REGIONS)),
        st.builds(lambda p: ["platform", p], st.sampled_from(PLATFORMS)),
        st.builds(lambda r: ["region", r], st.sampled_from(REGIONS)),
        st.builds(lambda g: ["genre", g], st.sampled_from(GENRES[:12])),
        st.builds(lambda t: ["type", t], st.sampled_from(["movie", "series"])),
        st.builds(lambda r: ["rating", r], st.sampled_from(RATINGS)),
        st.builds(lambda a, b: ["year", a, b], st.one_of(st.none(), st.integers(1940, 2025)),
                  st.one_of(st.none(), st.integers(1940, 2025))),
        st.just(["all"]))


EXPRS = st.recursive(_leaf(), lambda kids: st.one_of(
    st.builds(lambda xs: ["and", *xs], st.lists(kids, min_size=1, max_size=3)),
    st.builds(lambda xs: ["or", *xs], st.lists(kids, min_size=1, max_size=3)),
    st.builds(lambda x: ["not", x], kids)), max_leaves=8)


@settings(max_examples=100, deadline=None)
@given(EXPRS)
def test_arbitrary_boolean_expressions_match_xgi(built, expr):
    _, _, store, ref = built
    assert set(store.query(expr)) == ref.evaluate(expr)


# ------------------------------------------------------------------ compression and hyperedges
def test_compression_counts_exact_pairs():
    cat = pd.DataFrame([
        {"entity_id": "a", "type": "movie", "release_year": 2000, "rating": "PG", "genres": ["comedy"],
         "countries": [], "platforms": ["netflix", "prime"]},
        {"entity_id": "b", "type": "movie", "release_year": 2001, "rating": "PG", "genres": ["comedy", "drama"],
         "countries": [], "platforms": ["netflix"]}])
    av = pd.DataFrame({"entity_id": ["a", "a", "a", "b"], "platform": ["netflix", "netflix", "prime", "netflix"],
                       "region": ["US", "CA", "US", "US"]})
    store = HypergraphStore.from_catalog(cat, av, ["US", "CA"])
    c = store.compression()["availability"]
    # edges {a,nf,US,CA} {a,pr,US} {b,nf,US}: pairs a-nf a-pr b-nf | a-US a-CA b-US | nf-US nf-CA pr-US | US-CA
    assert c["hyperedges"] == 3 and c["pairwise_edges"] == 10 and c["incidences"] == 10
    assert c["pairwise_edges_with_multiplicity"] == 6 + 3 + 3
    g = store.compression()["availability_and_genres"]
    # genre edges {comedy,a,b} {drama,b}: + comedy-a comedy-b drama-b + a-b
    assert g["pairwise_edges"] == 10 + 4 and g["hyperedges"] == 5
    edges = list(store.hyperedges())
    assert edges[0]["nodes"] == ["a", "platform-netflix", "region-us", "region-ca"] and edges[0]["weight"] == 1.0


def test_simulated_store_is_consistent_with_xgi():
    store = simulated_store(1500, REGIONS, 0.3, seed=5)
    ref = XgiReference(store)
    for q in random_queries(40, REGIONS, seed=2):
        e = compile_query(q)
        assert set(store.query(e)) == ref.evaluate(e)
    assert set(store.query(["platform", "hulu"])) <= set(store.query(["region", "US"]))


# ------------------------------------------------------------------ real catalog: the seed's three queries
@pytest.fixture(scope="module")
def real_catalog(real_resolution):
    """The real catalogs resolved into canonical entities by mgw's own ingest + resolver (as the pipeline does)."""
    return real_resolution[1].entities


@pytest.mark.realdata
def test_seed_queries_on_real_catalog_agree_with_xgi(real_catalog):
    from mgw.hypergraph.bench import build_store, seed_queries

    store = build_store(real_catalog, REGIONS, 0.3, 42)
    result = seed_queries(store, XgiReference(store))
    for text, row in result.items():
        assert row["agrees_with_xgi"], text
        assert row["count"] > 0, text
