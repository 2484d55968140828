"""Per-title pieces of the seed §3.3.1 result (title, description, metadata, availability, deep links),
computed once from the catalog and the availability store, so formatting a page of results is a few dict
builds per title: no pandas lookup, no URL quoting, no availability decoding per query."""
from __future__ import annotations

from typing import Any, NamedTuple
from urllib.parse import quote_plus

import pandas as pd

from mgw.config import PLATFORMS
from mgw.hypergraph.store import HypergraphStore

SEARCH_URLS = {  # the catalogs carry no platform title ids, so deep links open the platform's own search
    "netflix": "https://www.netflix.com/search?q={q}",
    "prime": "https://www.amazon.com/s?k={q}&i=instant-video",
    "disney": "https://www.disneyplus.com/search?q={q}",
    "hulu": "https://www.hulu.com/search?q={q}",
}


class Fragment(NamedTuple):
    title: str
    description: str
    type: str
    release_year: int | None
    rating: str | None
    genres: tuple[str, ...]
    availability: tuple[tuple[str, tuple[str, ...]], ...]  # (platform, regions)
    deep_links: tuple[tuple[str, str], ...]  # (platform, url)


def fragment(row: Any, availability: dict[str, list[str]]) -> Fragment:
    year = row.release_year
    title = str(row.title)
    return Fragment(title, row.description, row.type, None if pd.isna(year) else int(year),
                    row.rating if isinstance(row.rating, str) else None, tuple(row.genres),
                    tuple((p, tuple(r)) for p, r in availability.items()),
                    tuple((p, SEARCH_URLS[p].format(q=quote_plus(title))) for p in availability if p in PLATFORMS))


class ResponseFragments:
    """entity id → Fragment for every catalog title; `result()` builds one fresh result dict (callers may
    mutate what they get without touching the precomputed pieces)."""

    def __init__(self, catalog: pd.DataFrame, store: HypergraphStore):
        self.by_id = {str(row.entity_id): fragment(row, store.availability(row.entity_id))
                      for row in catalog.itertuples(index=False)}

    def result(self, eid: str, score: float, similarity: float) -> dict[str, Any]:
        f = self.by_id[eid]
        return {
            "id": eid, "title": f.title, "description": f.description, "score": round(score, 6),
            "similarity": round(similarity, 6),
            "metadata": {"type": f.type, "release_year": f.release_year, "rating": f.rating, "genres": list(f.genres)},
            "availability": [{"platform": p, "availableRegions": list(r), "subscription": True}
                             for p, r in f.availability],
            "deepLinks": dict(f.deep_links),
        }
