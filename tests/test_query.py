"""Query parser: the seed's three queries, every operator, aliases, the labelled set, arbitrary input."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mgw.data.normalize import FAMILY_FRIENDLY, GENRES
from mgw.hypergraph.bench import SEED_QUERIES
from mgw.query import canonical, evaluate_labelled, filters_of, parse

LABELLED = Path(__file__).with_name("test_query_labelled.jsonl")


@pytest.mark.parametrize("text", list(SEED_QUERIES))
def test_seed_queries(text):
    assert filters_of(parse(text)) == filters_of(SEED_QUERIES[text])


@pytest.mark.parametrize("alias", ["Prime Video", "Amazon", "amazon prime", "Amazon Prime Video", "prime"])
def test_prime_aliases(alias):
    assert parse(f"dramas on {alias}")["platforms"]["all"] == ["prime"]


@pytest.mark.parametrize("alias", ["Disney+", "Disney Plus", "disney", "DisneyPlus"])
def test_disney_aliases(alias):
    assert parse(f"movies on {alias}")["platforms"]["all"] == ["disney"]


@pytest.mark.parametrize("text,key,expected", [
    ("on netflix and hulu", "all", ["hulu", "netflix"]),
    ("on both Netflix and Prime", "all", ["netflix", "prime"]),
    ("on netflix or hulu", "any", ["hulu", "netflix"]),
    ("on either Disney+ or Hulu", "any", ["disney", "hulu"]),
    ("not on netflix", "none", ["netflix"]),
    ("excluding Amazon", "none", ["prime"]),
    ("except hulu", "none", ["hulu"]),
    ("isn't on Disney+", "none", ["disney"]),
    ("not on hulu or netflix", "none", ["hulu", "netflix"]),
])
def test_platform_operators(text, key, expected):
    plats = parse("comedies " + text)["platforms"]
    assert plats[key] == expected
    assert all(plats[k] == [] for k in ("all", "any", "none") if k != key)


def test_mixed_platform_operators():
    q = parse("documentaries on Hulu or Disney+ but not Netflix")
    assert q["platforms"] == {"all": [], "any": ["disney", "hulu"], "none": ["netflix"]}


@pytest.mark.parametrize("text,regions", [
    ("in the UK", ["GB"]), ("in UK", ["GB"]), ("in the United Kingdom", ["GB"]), ("Canadian", ["CA"]),
    ("in Canada", ["CA"]), ("in US", ["US"]), ("in the US and Canada", ["CA", "US"]), ("Japanese", ["JP"]),
    ("in DE", ["DE"]), ("in Mexico", ["MX"]),
])
def test_regions(text, regions):
    assert parse(f"thrillers {text}")["regions"] == regions


@pytest.mark.parametrize("text,genres", [
    ("sci-fi", ["scifi"]), ("science fiction", ["scifi"]), ("docs", ["documentary"]),
    ("romcom", ["comedy", "romance"]), ("rom-coms", ["comedy", "romance"]), ("comedies", ["comedy"]),
    ("scary", ["horror"]), ("true crime", ["crime", "documentary"]),
])
def test_genre_synonyms(text, genres):
    assert parse(f"{text} on netflix")["genres"]["all"] == genres


def test_negated_genres():
    assert parse("action movies without romance")["genres"] == {"all": ["action"], "none": ["romance"]}
    assert parse("no horror please")["genres"]["none"] == ["horror"]


@pytest.mark.parametrize("text,year", [
    ("90s", (1990, 1999)), ("the 1980s", (1980, 1989)), ("'70s", (1970, 1979)), ("nineties", (1990, 1999)),
    ("after 2015", (2016, None)), ("since 2015", (2015, None)), ("before 2000", (None, 1999)),
    ("between 2000 and 2010", (2000, 2010)), ("2000-2010", (2000, 2010)), ("from 1995", (1995, 1995)),
    ("late 90s", (1997, 1999)), ("early 2000s", (2000, 2003)), ("2005 and later", (2005, None)),
])
def test_years(text, year):
    assert parse(f"comedies {text}")["year"] == {"min": year[0], "max": year[1]}


@pytest.mark.parametrize("text,kind", [("films", "movie"), ("movies", "movie"), ("shows", "series"),
                                       ("TV series", "series"), ("sitcoms", "series"), ("movies and shows", None)])
def test_type(text, kind):
    assert parse(f"funny {text}")["type"] == kind


def test_show_as_verb_is_not_series():
    assert parse("Show documentaries on Hulu")["type"] is None


def test_ratings():
    assert parse("PG-13 movies")["ratings"] == ["PG-13"]
    assert parse("rated R thrillers")["ratings"] == ["R"]
    assert parse("TV-MA dramas")["ratings"] == ["TV-MA"]
    assert parse("family friendly comedies")["ratings"] == sorted(FAMILY_FRIENDLY)
    assert parse("family friendly comedies")["genres"]["all"] == ["comedy"]  # "family" is not the genre here


def test_unparsed_words_stay_in_text():
    q = parse("movies about a heist in Paris on Netflix")
    assert q["text"] == "about heist Paris" and q["genres"]["all"] == ["crime"]  # narrow genre word stays
    assert parse("Stranger Things")["text"] == "Stranger Things"


def test_equal_meanings_compare_equal():
    a = parse("comedies on Prime Video and Netflix in the UK")
    b = parse("Netflix and Amazon comedies in UK")
    assert filters_of(a) == filters_of(b)
    assert json.dumps(a, sort_keys=True) == json.dumps(canonical(a), sort_keys=True)


def test_labelled_set_accuracy():
    result = evaluate_labelled(str(LABELLED))
    assert result["queries"] >= 150
    assert result["filters_exact_match"] >= 0.9, result["misses"]


def test_labelled_set_is_valid():
    for line in LABELLED.read_text().splitlines():
        row = json.loads(line)
        assert set(row) <= {"query", "platforms", "regions", "genres", "type", "year", "ratings"}
        assert all(g in GENRES for g in row.get("genres", {}).get("all", []) + row.get("genres", {}).get("none", []))


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=200))
def test_arbitrary_text_never_raises(text):
    q = parse(text)
    assert json.loads(json.dumps(q)) == q
    assert canonical(q) == q
    assert set(q) == {"text", "platforms", "regions", "genres", "type", "year", "ratings", "warnings"}


@settings(max_examples=100, deadline=None)
@given(st.lists(st.sampled_from(["on", "not", "netflix", "hulu", "or", "and", "in", "the", "UK", "90s", "after",
                                 "2015", "sci-fi", "docs", "Disney+", "excluding", "PG-13", "shows", "films",
                                 "between", "2000", "Canadian", "no", "horror", "family friendly", "-", ","]),
                max_size=14).map(" ".join))
def test_keyword_soup_never_raises(text):
    q = parse(text)
    assert canonical(q) == q
    assert all(p in ("netflix", "prime", "disney", "hulu") for ps in q["platforms"].values() for p in ps)


def test_non_string_input():
    assert parse(None)["text"] == "None"
    assert parse(123)["text"] == "123"
