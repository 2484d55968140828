"""One raw catalog record (the 13 columns of the platform CSVs) → a `ContentItem` or a `Rejection`.

Every connector (CSV files, the simulated source, the live feed) produces raw records in this shape so that
all of them go through the same validation. A record is rejected with a reason, never dropped silently.
Two known defects of the real files are repaired, not rejected, and counted under `repaired`: a duration
written into the `rating` column with `duration` empty (Netflix, Hulu) is moved back, and a `Movie` whose
duration is a season count (Hulu) becomes a series.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from mgw.data import normalize as nz
from mgw.data.schema import ContentItem, Rejection
from mgw.errors import DataError

COLUMNS = ("show_id", "type", "title", "director", "cast", "country", "date_added", "release_year",
           "rating", "duration", "listed_in", "description", "OTT")
MIN_YEAR, MAX_YEAR = 1870, 2035


@dataclass(frozen=True)
class UnreadableRecord:
    """A source record that could not be read into fields (bad encoding, unclosed quote, oversize field):
    the reader says why and keeps the raw text, `normalize_record` turns it into a Rejection."""

    reason: str
    raw: str


class RowStats:
    """Counters a connector keeps while normalizing: repairs and unmapped labels, for ingest metrics."""

    def __init__(self) -> None:
        self.repaired: Counter[str] = Counter()
        self.unmapped_genres: Counter[str] = Counter()


def normalize_record(platform: str, row: int, record: dict[str, Any] | UnreadableRecord, source: str = "",
                     stats: RowStats | None = None) -> ContentItem | Rejection:
    """Validate and normalize one record. `row` is the 1-based data row number (header excluded)."""
    if isinstance(record, UnreadableRecord):
        return Rejection(platform=platform, row=row, reason=record.reason, source=source,
                         raw={"raw_text": record.raw})
    if not isinstance(record, dict):
        return Rejection(platform=platform, row=row, reason=f"not a record: {type(record).__name__}",
                         source=source, raw={"raw_text": repr(record)[:10_000]})
    def reject(reason: str) -> Rejection:
        return Rejection(platform=platform, row=row, reason=reason, source=source,
                         raw={k: (v if v is None or isinstance(v, (str, int, float)) else str(v))
                              for k, v in record.items() if k is not None})

    if None in record:  # csv.DictReader puts surplus fields under the None key
        return reject(f"too many fields ({len(COLUMNS) + len(record[None])} > {len(COLUMNS)})")
    missing = [c for c in COLUMNS if c not in record or record[c] is None]
    if missing:
        return reject(f"missing fields: {', '.join(missing)}")
    rec = {k: ("" if v is None else str(v)) for k, v in record.items()}
    show_id = rec["show_id"].strip()
    title = rec["title"].strip()
    if not show_id:
        return reject("empty show_id")
    if not title:
        return reject("empty title")
    try:
        ctype = nz.canonical_type(rec["type"])
        year_s = rec["release_year"].strip()
        if not year_s.isdigit() or not MIN_YEAR <= int(year_s) <= MAX_YEAR:
            raise DataError(f"release_year {rec['release_year']!r} is not a year in {MIN_YEAR}..{MAX_YEAR}")
        rating_raw, duration_raw = rec["rating"], rec["duration"]
        if nz.is_duration(rating_raw) and not duration_raw.strip():
            rating_raw, duration_raw = "", rating_raw
            if stats:
                stats.repaired["duration in rating column"] += 1
        rating = nz.canonical_rating(rating_raw)
        minutes, seasons = nz.parse_duration(duration_raw)
        if ctype == "movie" and seasons is not None:  # Hulu lists some series as Movie: the count decides
            ctype = "series"
            if stats:
                stats.repaired["Movie type with a season count → series"] += 1
        added = nz.parse_date(rec["date_added"])
        genres, labels, unmapped = nz.canonical_genres(rec["listed_in"])
        countries = nz.country_codes(rec["country"])
    except DataError as e:
        return reject(str(e))
    if stats:
        stats.unmapped_genres.update(unmapped)
    return ContentItem(
        id=f"{platform}:{show_id}", platform=platform, show_id=show_id, row=row, title=title, type=ctype,
        description=rec["description"].strip(), release_year=int(year_s), duration_min=minutes,
        seasons=seasons, rating=rating, genres=genres, platform_genres=labels,
        cast=nz.split_people(rec["cast"]), directors=nz.split_people(rec["director"]), countries=countries,
        date_added=added.isoformat() if added else None,
    )
