import csv
from datetime import date

import pytest
from hypothesis import given, strategies as st

from mgw.data import normalize as nz
from mgw.data.connectors.csv_catalog import CATALOG_FILES, catalog_path
from mgw.errors import DataError, UnknownPlatformError


@pytest.mark.parametrize("raw,expected", [("25-Sep-21", date(2021, 9, 25)), ("1-Nov-19", date(2019, 11, 1)),
                                          (" September 25, 2021", date(2021, 9, 25)),
                                          ("September 5, 2019", date(2019, 9, 5)), ("2020-01-31", date(2020, 1, 31)),
                                          ("", None), ("   ", None)])
def test_every_date_format(raw, expected):
    assert nz.parse_date(raw) == expected


@pytest.mark.parametrize("raw", ["31-Feb-21", "yesterday", "2021/09/25"])
def test_bad_dates_raise(raw):
    with pytest.raises(DataError):
        nz.parse_date(raw)


@pytest.mark.parametrize("raw,expected", [("90 min", (90, None)), ("1 Season", (None, 1)), ("12 Seasons", (None, 12)),
                                          ("", (None, None))])
def test_durations(raw, expected):
    assert nz.parse_duration(raw) == expected


def test_bad_duration_raises():
    with pytest.raises(DataError):
        nz.parse_duration("ninety minutes")


@pytest.mark.parametrize("raw,expected", [("13+", "PG-13"), ("ALL", "G"), ("18+", "NC-17"), ("TV-MA", "TV-MA"),
                                          ("NOT RATED", "NR"), ("UR", "NR"), ("", None)])
def test_ratings(raw, expected):
    assert nz.canonical_rating(raw) == expected


@pytest.mark.parametrize("raw,expected", [("Disney+", "disney"), ("Prime Video", "prime"), ("Amazon", "prime"),
                                          ("NETFLIX", "netflix"), ("disney plus", "disney"), ("Hulu", "hulu")])
def test_platform_aliases(raw, expected):
    assert nz.canonical_platform(raw) == expected


def test_unknown_platform_is_typed():
    with pytest.raises(UnknownPlatformError, match="appletv"):
        nz.canonical_platform("appletv")


def test_genre_mapping_and_other():
    assert nz.canonical_genres("TV Dramas, TV Mysteries") == (["drama", "mystery"], ["TV Dramas", "TV Mysteries"], [])
    assert nz.canonical_genres("Movies")[0] == ["other"]
    genres, _, unmapped = nz.canonical_genres("Space Westerns")
    assert genres == ["other"] and unmapped == ["Space Westerns"]
    assert all(g in nz.GENRES for labels in nz.GENRE_MAP.values() for g in labels)


def test_countries():
    assert nz.country_codes("United States, United Kingdom, West Germany") == ["US", "GB", "DE"]
    assert nz.country_code("UK") == "GB"
    with pytest.raises(DataError):
        nz.country_code("Atlantis")


@given(st.text(max_size=60))
def test_normalize_title_is_idempotent(s):
    once = nz.normalize_title(s)
    assert nz.normalize_title(once) == once


@pytest.mark.realdata
def test_every_real_label_and_country_is_mapped(real_data_dir):
    ratings, labels = set(), set()
    for platform in CATALOG_FILES:
        with catalog_path(real_data_dir, platform).open(encoding="utf-8", newline="") as f:
            for r in csv.DictReader(f):
                labels.update(g.strip() for g in r["listed_in"].split(",") if g.strip())
                nz.country_codes(r["country"])
                if not nz.is_duration(r["rating"]):
                    ratings.add(r["rating"])
    assert labels <= set(nz.GENRE_MAP), labels - set(nz.GENRE_MAP)
    for r in ratings:
        nz.canonical_rating(r)
