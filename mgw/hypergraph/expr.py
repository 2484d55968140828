"""Boolean filter expressions shared by the store and the reference oracle (JSON lists, so they log and cache).

Leaves:  ["all"]                 every title in the catalog
         ["avail", p, r]         streams on platform p in region r
         ["platform", p]         streams on p in some region
         ["region", r]           streams in r on some platform   (the NOT universe of a region)
         ["genre", g] ["type", t] ["rating", x] ["year", lo, hi] (lo/hi may be null)
Nodes:   ["and", e...]  ["or", e...]  ["not", e]   — NOT is the complement within ["all"]; queries that
         mean "not in a region" are compiled as ["and", ["region", r], ["not", e]], so their universe is
         the titles known in that region (see docs/hypergraph-search.md).
"""
from __future__ import annotations

from typing import Any

Expr = list[Any]
LEAVES = ("all", "avail", "platform", "region", "genre", "type", "rating", "year")


def compile_query(parsed: dict[str, Any]) -> Expr:
    """Parsed query (mgw.query.parse structure) → expression.

    Platform terms are evaluated per requested region and the regions are OR-ed: "on Netflix AND Prime in
    US or CA" means both services carry it in the same region. Without regions, "on X" means X streams it
    somewhere. `none` is relative to the titles known in that region (or the whole catalog)."""
    plats = parsed.get("platforms") or {}
    p_all, p_any, p_none = plats.get("all") or [], plats.get("any") or [], plats.get("none") or []
    regions = parsed.get("regions") or []
    per_region: list[Expr] = []
    for r in regions or [None]:
        def leaf(p: str) -> Expr:
            return ["avail", p, r] if r else ["platform", p]

        terms: list[Expr] = [["region", r] if r else ["all"]]
        terms += [leaf(p) for p in p_all]
        if p_any:
            terms.append(["or", *[leaf(p) for p in p_any]])
        if p_none:
            terms.append(["not", ["or", *[leaf(p) for p in p_none]]])
        per_region.append(terms[0] if len(terms) == 1 else ["and", *terms])
    terms = [per_region[0] if len(per_region) == 1 else ["or", *per_region]]
    genres = parsed.get("genres") or {}
    terms += [["genre", g] for g in genres.get("all") or []]
    if genres.get("none"):
        terms.append(["not", ["or", *[["genre", g] for g in genres["none"]]]])
    if parsed.get("type"):
        terms.append(["type", parsed["type"]])
    year = parsed.get("year")
    if year and (year.get("min") is not None or year.get("max") is not None):
        terms.append(["year", year.get("min"), year.get("max")])
    if parsed.get("ratings"):
        terms.append(["or", *[["rating", x] for x in parsed["ratings"]]])
    return terms[0] if len(terms) == 1 else ["and", *terms]


def leaves(expr: Expr) -> list[Expr]:
    """All leaves of an expression (for validation and for warming caches)."""
    if expr[0] in LEAVES:
        return [expr]
    out: list[Expr] = []
    for child in expr[1:]:
        out += leaves(child)
    return out
