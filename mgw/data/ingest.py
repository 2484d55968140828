"""Ingest: connectors → normalize → input buffer → `items.parquet` + `rejected.jsonl` + ingest metrics.

Every source record is accounted for: it becomes an item or a rejection with platform, row number and reason.
For CSV files the records are counted from the raw file by mgw's own tokenizer, independently of the CSV parser
(`csv_catalog`), and `accounted` in the metrics is true only when every line of every file is the header, a
blank line or part of a record, and every record read is an item or a rejection.
The run fails (IngestError) only when the reject rate exceeds `data.max_reject_rate`.
"""
from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from tqdm import tqdm

from mgw.config import PLATFORMS, Params, data_dir
from mgw.data.buffer import InputBuffer
from mgw.data.connectors.csv_catalog import CsvCatalogSource, catalog_path
from mgw.data.rows import RowStats, normalize_record
from mgw.data.schema import ContentItem, Rejection
from mgw.errors import DataError


class IngestError(DataError):
    """Too many rows rejected: the run stops instead of producing a thin catalog."""


@dataclass
class IngestResult:
    items: list[ContentItem] = field(default_factory=list)
    rejections: list[Rejection] = field(default_factory=list)
    rows_read: Counter[str] = field(default_factory=Counter)
    stats: RowStats = field(default_factory=RowStats)
    buffer_flushes: Counter[str] = field(default_factory=Counter)
    sources: dict[str, dict[str, Any]] = field(default_factory=dict)  # platform → source name + accounting

    def items_frame(self) -> pd.DataFrame:
        return pd.DataFrame([i.to_dict() for i in self.items])

    def metrics(self, source: str) -> dict[str, Any]:
        per_platform = {}
        for p in sorted(self.rows_read):
            ok = sum(1 for i in self.items if i.platform == p)
            bad = sum(1 for r in self.rejections if r.platform == p)
            per_platform[p] = {"rows": self.rows_read[p], "items": ok, "rejected": bad, **self.sources.get(p, {})}
        total = sum(self.rows_read.values())
        return {
            "source": source,
            "rows": total,
            "items": len(self.items),
            "rejected": len(self.rejections),
            "reject_rate": len(self.rejections) / total if total else 0.0,
            "accounted": all(_accounted(v) for v in per_platform.values()),
            "per_platform": per_platform,
            "rejected_by_reason": dict(Counter(_reason_kind(r.reason) for r in self.rejections).most_common()),
            "repaired": dict(self.stats.repaired),
            "unmapped_genre_labels": dict(self.stats.unmapped_genres),
            "buffer_flushes": dict(self.buffer_flushes),
        }


def _accounted(p: dict[str, Any]) -> bool:
    """Items + rejections = records read = records the source counted, and every file line has a use."""
    return (p["items"] + p["rejected"] == p["rows"] == p.get("records_read", p["rows"])
            and p.get("lines_accounted", True))


def _reason_kind(reason: str) -> str:
    """Group reasons for metrics: 'unknown rating '74 min'' → 'unknown rating'."""
    return reason.split(" '")[0].split(" (")[0].split(":")[0]


@dataclass
class SourceRecords:
    """One platform's records and, after they are read, how the source counted them."""

    platform: str
    name: str
    records: Iterator[tuple[int, Any]]
    accounting: Callable[[], dict[str, Any] | None] = lambda: None


def raw_sources(params: Params) -> Iterator[SourceRecords]:
    """The records of every enabled platform, from the configured source kind."""
    if params.data.source == "simulated":
        from mgw.data.connectors.simulated import simulated_catalog

        catalog = simulated_catalog(params)
        for platform in PLATFORMS:
            if params.connectors[platform].enabled:
                recs = catalog.get(platform, [])
                yield SourceRecords(platform, f"simulated:{platform}", iter(enumerate(recs, start=1)),
                                    lambda n=len(recs): {"records_in_file": n, "records_read": n})
        return
    root = data_dir(params)
    for platform in PLATFORMS:
        conn = params.connectors[platform]
        if not conn.enabled:
            continue
        if conn.mode == "live":
            from mgw.data.connectors.live import LiveFeedConnector

            live = LiveFeedConnector.from_params(platform, conn)
            recs = live.fetch_records()
            yield SourceRecords(platform, conn.url or "", iter(recs),
                                lambda n=len(recs): {"records_in_file": n, "records_read": n})
        else:
            src = CsvCatalogSource(platform, catalog_path(root, platform), params.data.limit_per_platform)
            yield SourceRecords(platform, str(src.path), src.records(), lambda src=src: src.accounting)


def ingest(params: Params, show_progress: bool = True) -> IngestResult:
    result = IngestResult()
    seen: set[str] = set()
    for src in raw_sources(params):
        platform, source = src.platform, src.name
        result.rows_read[platform] += 0  # listed in the metrics even when it yields nothing
        buffer: InputBuffer[ContentItem] = InputBuffer(
            result.items.extend, params.buffer.maxSize, params.buffer.maxDelay, params.buffer.flushStrategy)
        with buffer:
            for row, record in tqdm(src.records, desc=f"ingest {platform}", unit=" rows",
                                    disable=not show_progress, leave=False):
                result.rows_read[platform] += 1
                out = normalize_record(platform, row, record, source, result.stats)
                if isinstance(out, ContentItem) and out.id in seen:
                    out = Rejection(platform, row, f"duplicate show_id {out.show_id!r}", source,
                                    {k: v for k, v in record.items() if k is not None})
                if isinstance(out, Rejection):
                    result.rejections.append(out)
                    continue
                seen.add(out.id)
                buffer.add(out)
        result.buffer_flushes.update(buffer.flushes)
        result.sources[platform] = {"source": source, **(src.accounting() or {})}
    return result


def check_reject_rate(result: IngestResult, max_rate: float) -> None:
    total = sum(result.rows_read.values())
    if total == 0:
        raise IngestError("no rows were read from any source")
    rate = len(result.rejections) / total
    if rate > max_rate:
        top = Counter(_reason_kind(r.reason) for r in result.rejections).most_common(5)
        raise IngestError(f"{len(result.rejections)} of {total} rows rejected ({rate:.1%} > max_reject_rate "
                          f"{max_rate:.1%}); most common reasons: {top}")


def write_outputs(result: IngestResult, interim_dir: str | Path) -> tuple[Path, Path]:
    interim = Path(interim_dir)
    interim.mkdir(parents=True, exist_ok=True)
    items_path = interim / "items.parquet"
    result.items_frame().to_parquet(items_path, index=False)
    rejected_path = interim / "rejected.jsonl"
    with rejected_path.open("w") as f:
        for r in result.rejections:
            f.write(json.dumps(r.to_dict(), ensure_ascii=False) + "\n")
    return items_path, rejected_path
