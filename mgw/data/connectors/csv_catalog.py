"""Real platform catalogs: the four Kaggle CSVs under `<data_dir>/catalogs/` (see shared/data/README.md)."""
from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from mgw.errors import DataError

# canonical platform id → file name in <data_dir>/catalogs/
CATALOG_FILES = {"netflix": "netflix_titles.csv", "prime": "amazon_prime_titles.csv",
                 "disney": "disney_plus_titles.csv", "hulu": "hulu_titles.csv"}


def catalog_path(data_dir: str | Path, platform: str) -> Path:
    return Path(data_dir) / "catalogs" / CATALOG_FILES[platform]


def iter_csv_records(text_or_path: str | Path | io.TextIOBase, source: str = "") -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield (1-based data row number, record) from CSV text, a path or an open text stream."""
    if isinstance(text_or_path, Path):
        try:
            text = text_or_path.read_text(encoding="utf-8")
        except UnicodeDecodeError as e:
            raise DataError(f"{text_or_path}: not UTF-8 text ({e})") from None
        stream: io.TextIOBase = io.StringIO(text, newline="")
    elif isinstance(text_or_path, str):
        stream = io.StringIO(text_or_path, newline="")
    else:
        stream = text_or_path
    reader = csv.DictReader(stream)
    try:
        for n, record in enumerate(reader, start=1):
            yield n, record
    except csv.Error as e:
        raise DataError(f"{source or 'csv'}: malformed CSV near data row {reader.line_num}: {e}") from None


class CsvCatalogSource:
    """Reads one platform's catalog file; `limit` caps rows for quick runs."""

    def __init__(self, platform: str, path: str | Path, limit: int | None = None):
        self.platform = platform
        self.path = Path(path)
        self.limit = limit

    def records(self) -> Iterator[tuple[int, dict[str, Any]]]:
        if not self.path.exists():
            raise FileNotFoundError(f"catalog file for {self.platform} not found: {self.path} "
                                    f"(put the Kaggle CSVs under <data_dir>/catalogs/, see README 'Data')")
        for n, rec in iter_csv_records(self.path, source=str(self.path)):
            if self.limit is not None and n > self.limit:
                break
            yield n, rec
