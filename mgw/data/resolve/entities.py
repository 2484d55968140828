"""Canonical entities from clustered listings: one row per title, in the ContentEntity shape."""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from mgw.config import PLATFORMS
from mgw.data.resolve.cluster import groups


def merge_listings(group: list[dict[str, Any]], kinds: dict[str, str]) -> dict[str, Any]:
    """One entity from its listings: fields from the first platform in PLATFORMS order, lists united,
    the longest synopsis. `kinds` maps a listing id to how it was merged (exact | fuzzy title)."""
    order = {p: i for i, p in enumerate(PLATFORMS)}
    group = sorted(group, key=lambda r: (order.get(r["platform"], 99), r["id"]))
    first = group[0]

    def union(col: str) -> list[str]:
        out: list[str] = []
        for r in group:
            out.extend(v for v in r[col] if v not in out)
        return out

    def first_valid(col: str) -> Any:
        return next((r[col] for r in group if r[col] is not None and not pd.isna(r[col])), None)

    genres = union("genres")
    if len(genres) > 1 and "other" in genres:
        genres.remove("other")
    source_ids = sorted(r["id"] for r in group)
    kind = "single" if len(group) == 1 else ("fuzzy" if any(kinds.get(i) == "fuzzy" for i in source_ids) else "exact")
    year = first_valid("release_year")
    return {
        "entity_id": f"ent:{source_ids[0]}", "title": first["title"], "type": first["type"],
        "description": max((r["description"] or "" for r in group), key=len),
        "release_year": int(year) if year is not None else None,
        "duration_min": first_valid("duration_min"), "seasons": first_valid("seasons"),
        "rating": first_valid("rating"), "genres": genres, "cast": union("cast"), "directors": union("directors"),
        "countries": union("countries"), "date_added": first_valid("date_added"),
        "platforms": sorted({r["platform"] for r in group}, key=order.get), "source_ids": source_ids,
        "match_kind": kind,
    }


def build_entities(items: pd.DataFrame, root: np.ndarray, merges: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, str]]:
    """(entities sorted by id, listing id → entity id) from the cluster roots of `items` rows."""
    records = items.to_dict("records")
    kinds: dict[str, str] = {}
    for a, b, k in zip(merges["a"], merges["b"], merges["kind"]):
        for x in (a, b):
            if kinds.get(x) != "fuzzy":
                kinds[x] = k
    entities, item_entity = [], {}
    for members in groups(root).values():
        ent = merge_listings([records[i] for i in members], kinds)
        entities.append(ent)
        for i in members:
            item_entity[records[i]["id"]] = ent["entity_id"]
    return pd.DataFrame(entities).sort_values("entity_id").reset_index(drop=True), item_entity
