"""The evidence two listings give about being one title, as comparison levels — defined once, in SQL.

Each comparison orders its levels from most to least similar; a pair takes the first level whose condition
holds. Conditions are DuckDB SQL over the columns of both listings (`<col>_l`, `<col>_r`, splink's naming),
so mgw's engine (`comparison_vectors`, DuckDB over the blocked pairs) and splink's (`splink_comparisons`) read
the very same definitions. A null level is *unknown*, not agreement: a listing without cast says nothing.

- title: normalized titles equal; equal once a platform's brand prefix or edition tag is dropped; equal once a
  leading article is dropped too (weaker: "The Trap" and "Trap" are often two films); Jaro–Winkler on the keys;
  one title's words all inside the other's (a dropped subtitle).
- title frequency: for titles equal up to brand/edition, whether at most RARE_TITLE listings of the catalog
  carry it ("Gravity Falls") or more ("Home") — an equal rare title is stronger evidence (term frequency, as
  splink's TF adjustment; the cut-off was chosen by cross-validation on the train split).
- year, type-aware: a series is dated by its first season on one platform and its latest on another, so a
  series gap within its run (seasons + 1 years) is its own level, and any series gap another.
- type: both movies, both series, or one of each.
- people: cast and directors as person keys; overlap coefficient ≥ 0.5, any shared name, disjoint.
- runtime: movies only; |Δ| ≤ 3 and ≤ 10 minutes.
- synopsis: cosine of the listings' MiniLM vectors (title, synopsis and genres, as the embed stage writes them);
  type-aware like the year: a dissimilar synopsis of two series is its own level, because two platforms often
  describe different seasons of one show (chosen by grouped cross-validation on the train split).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import duckdb
import numpy as np
import pandas as pd

SYNOPSIS_LEVELS = (0.85, 0.75, 0.65, 0.55)  # cosine cut-offs, highest first (set on the train split)
RARE_TITLE = 3  # a title (as `title_core`) held by at most this many listings of the catalog is rare


@dataclass(frozen=True)
class Level:
    label: str
    sql: str
    is_null: bool = False


@dataclass(frozen=True)
class Comparison:
    name: str
    description: str
    levels: tuple[Level, ...]  # most similar first, ELSE last (a null level, when any, first)

    @property
    def labels(self) -> list[str]:
        return [lv.label for lv in self.levels]


def _diff(col: str) -> str:
    return f"abs({col}_l - {col}_r)"


def _overlap() -> str:
    return "len(list_intersect(people_l, people_r))"


COMPARISONS: tuple[Comparison, ...] = (
    Comparison("title", "title keys", (
        Level("exact", "title_norm_l = title_norm_r"),
        Level("branded", "title_core_l = title_core_r"),
        Level("article", "title_key_l = title_key_r"),
        Level("jw95", "jaro_winkler_similarity(title_key_l, title_key_r) >= 0.95"),
        Level("jw88", "jaro_winkler_similarity(title_key_l, title_key_r) >= 0.88"),
        Level("contained", "list_has_all(title_tokens_l, title_tokens_r) OR list_has_all(title_tokens_r, title_tokens_l)"),
        Level("else", "TRUE"),
    )),
    Comparison("title_frequency", "how many listings share the title", (
        Level("unknown", "title_core_l <> title_core_r", is_null=True),
        Level("rare", f"greatest(title_count_l, title_count_r) <= {RARE_TITLE}"),
        Level("common", "TRUE"),
    )),
    Comparison("year", "release year, type-aware", (
        Level("unknown", "release_year_l IS NULL OR release_year_r IS NULL", is_null=True),
        Level("same", "release_year_l = release_year_r"),
        Level("one", f"{_diff('release_year')} = 1"),
        Level("series_run", f"type_l = 'series' AND type_r = 'series' AND {_diff('release_year')} <= "
                            "greatest(coalesce(seasons_l, 1), coalesce(seasons_r, 1)) + 1"),
        Level("series_far", "type_l = 'series' AND type_r = 'series'"),
        Level("near", f"{_diff('release_year')} <= 3"),
        Level("else", "TRUE"),
    )),
    Comparison("type", "movie or series", (
        Level("movies", "type_l = 'movie' AND type_r = 'movie'"),
        Level("series", "type_l = 'series' AND type_r = 'series'"),
        Level("mixed", "TRUE"),
    )),
    Comparison("people", "cast and directors", (
        Level("unknown", "len(people_l) = 0 OR len(people_r) = 0", is_null=True),
        Level("most", f"{_overlap()} >= 0.5 * least(len(people_l), len(people_r))"),
        Level("some", f"{_overlap()} >= 1"),
        Level("disjoint", "TRUE"),
    )),
    Comparison("runtime", "movie runtime", (
        Level("unknown", "NOT (type_l = 'movie' AND type_r = 'movie') OR duration_min_l IS NULL "
                         "OR duration_min_r IS NULL", is_null=True),
        Level("close", f"{_diff('duration_min')} <= 3"),
        Level("near", f"{_diff('duration_min')} <= 10"),
        Level("far", "TRUE"),
    )),
    Comparison("synopsis", "MiniLM cosine of title, synopsis and genres", (
        Level("unknown", "synopsis_vec_l IS NULL OR synopsis_vec_r IS NULL", is_null=True),
        *(Level(f"cos{int(t * 100)}", f"array_cosine_similarity(synopsis_vec_l, synopsis_vec_r) >= {t}")
          for t in SYNOPSIS_LEVELS),
        Level("series_else", "type_l = 'series' AND type_r = 'series'"),
        Level("else", "TRUE"),
    )),
)


def by_name(name: str) -> Comparison:
    return next(c for c in COMPARISONS if c.name == name)


def level_index(name: str, label: str) -> int:
    """Index of level `label` in comparison `name` (the value comparison vectors hold)."""
    return by_name(name).labels.index(label)


def case_sql(comparison: Comparison) -> str:
    """The level index (0 = first level) of a pair, as one SQL CASE expression."""
    whens = " ".join(f"WHEN {lv.sql} THEN {k}" for k, lv in enumerate(comparison.levels))
    return f"CASE {whens} END"


def configure(con: duckdb.DuckDBPyConnection, threads: int) -> None:
    """Thread budget, and no progress bar (a Jupyter kernel without ipywidgets refuses to draw one)."""
    con.execute(f"SET threads = {int(threads)}").fetchall()
    for setting in ("enable_progress_bar", "enable_progress_bar_print"):
        try:
            con.execute(f"SET {setting} = false").fetchall()
        except duckdb.Error:
            pass


def comparison_vectors(listings: Any, pairs: pd.DataFrame, con: duckdb.DuckDBPyConnection | None = None,
                       threads: int = 2) -> pd.DataFrame:
    """Level index of every comparison for each candidate pair (rows in the order of `pairs`), computed by
    DuckDB from the listing table (mgw.data.resolve.listings), plus the raw title and synopsis similarities."""
    con = con or duckdb.connect()
    configure(con, threads)
    con.register("mgw_listings", listings)
    con.register("mgw_pairs", pd.DataFrame({"i": pairs["i"].to_numpy(), "j": pairs["j"].to_numpy(),
                                            "k": np.arange(len(pairs))}))
    cols = [c for c in listings.column_names if c != "row"]
    both = ", ".join(f"l.{c} AS {c}_l, r.{c} AS {c}_r" for c in cols)
    cases = ", ".join(f"{case_sql(c)} AS {c.name}" for c in COMPARISONS)
    sql = (f"WITH p AS (SELECT pr.k, {both} FROM mgw_pairs pr JOIN mgw_listings l ON l.row = pr.i "
           f"JOIN mgw_listings r ON r.row = pr.j) "
           f"SELECT {cases}, jaro_winkler_similarity(title_key_l, title_key_r) AS title_similarity, "
           f"array_cosine_similarity(synopsis_vec_l, synopsis_vec_r) AS synopsis_cosine FROM p ORDER BY k")
    out = con.execute(sql).df()
    con.unregister("mgw_pairs")
    con.unregister("mgw_listings")
    return out.astype({c.name: np.int8 for c in COMPARISONS})
