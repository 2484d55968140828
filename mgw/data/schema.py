"""The records mgw passes between stages (seed §2.1): one row per platform listing, one entity per title.

Files:
- `data/interim/items.parquet`   — `ContentItem` rows: one per (platform, show_id), normalized.
- `data/interim/rejected.jsonl`  — `Rejection` rows: bad input rows with platform, row number and reason.
- `data/processed/catalog.parquet` — `ContentEntity` rows: one per canonical title, with availability.
- `data/processed/interactions.parquet` — `Interaction` rows (simulated users or MovieLens).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any, Literal

ContentType = Literal["movie", "series"]

# Columns of items.parquet / catalog.parquet that hold lists.
LIST_COLUMNS = ("genres", "platform_genres", "cast", "directors", "countries")


@dataclass
class ContentItem:
    """One platform's listing of a title, normalized (seed §3.2.1 output)."""

    id: str  # "<platform>:<show_id>", e.g. "netflix:s1"
    platform: str  # canonical platform id: netflix | prime | disney | hulu
    show_id: str
    row: int  # 1-based data row number in the source (header excluded)
    title: str
    type: ContentType
    description: str = ""
    release_year: int | None = None
    duration_min: int | None = None  # movies
    seasons: int | None = None  # series
    rating: str | None = None  # canonical rating (see normalize.RATINGS)
    genres: list[str] = field(default_factory=list)  # canonical genres
    platform_genres: list[str] = field(default_factory=list)  # labels as the platform wrote them
    cast: list[str] = field(default_factory=list)
    directors: list[str] = field(default_factory=list)
    countries: list[str] = field(default_factory=list)  # ISO 3166-1 alpha-2 production countries
    date_added: str | None = None  # ISO date

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Rejection:
    """A source row that could not be normalized. Written to rejected.jsonl; never dropped silently."""

    platform: str
    row: int
    reason: str
    source: str = ""  # file name or URL
    raw: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class PlatformAvailability:
    """Seed §2.1.1. Regions are filled by the hypergraph availability model, not by the catalogs."""

    platform: str
    source_id: str
    availableRegions: list[str] = field(default_factory=list)
    subscription: bool = True
    price: float | None = None
    quality: list[str] = field(default_factory=list)
    url: str = ""


@dataclass
class ContentEntity:
    """One canonical title merged across platforms by the entity resolver."""

    entity_id: str  # "ent:" + the smallest source id, stable across runs
    title: str
    type: ContentType
    description: str = ""
    release_year: int | None = None
    duration_min: int | None = None
    seasons: int | None = None
    rating: str | None = None
    genres: list[str] = field(default_factory=list)
    cast: list[str] = field(default_factory=list)
    directors: list[str] = field(default_factory=list)
    countries: list[str] = field(default_factory=list)
    date_added: str | None = None
    platforms: list[str] = field(default_factory=list)
    source_ids: list[str] = field(default_factory=list)
    match_kind: str = "single"  # single | exact | fuzzy (how the merge was made)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Interaction:
    """A user event (seed §4.3.2): watch / skip / rate, with an optional rating."""

    user_id: str
    entity_id: str
    event: Literal["watch", "skip", "rate"]
    timestamp: int  # unix seconds
    rating: float | None = None


def column_names(cls: type) -> list[str]:
    return [f.name for f in fields(cls)]
