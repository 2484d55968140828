"""Real platform catalogs: the four Kaggle CSVs under `<data_dir>/catalogs/` (see shared/data/README.md).

A CSV file is read in two passes over its raw bytes, so that every record of the file is accounted for:

1. `split_records` is mgw's own tokenizer: it follows the quote state of each physical line (a quote opens a
   quoted field only at a field's start, `""` is an escaped quote, a newline inside quotes belongs to the
   field) and cuts the file into records. It does not use the `csv` module, and it is where the two can
   disagree: a quote that never closes would make a CSV parser swallow every following line up to the next
   quote. Here a line that is a complete record on its own (quotes balanced, exactly the header's number of
   fields) ends the open record; that record is quarantined as "unclosed quote" and the lines after it are
   read as the records they are.
2. Each record alone is decoded (UTF-8) and parsed with the `csv` module. A record that does not decode, does
   not parse to exactly one row, or holds a field longer than `MAX_FIELD_CHARS` becomes an `UnreadableRecord`,
   which ingest quarantines with its row number and reason; the file goes on.

`CsvFile.accounting` then states what was read: physical lines = header + blank lines + the lines of every
record, and records = the rows handed on (items + rejections once ingest has normalized them). A UTF-8 byte
order mark is skipped; an empty file, a header-only file and a file without a header are `DataError`s naming
the file.
"""
from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mgw.data.rows import COLUMNS, UnreadableRecord
from mgw.errors import DataError

# canonical platform id → file name in <data_dir>/catalogs/
CATALOG_FILES = {"netflix": "netflix_titles.csv", "prime": "amazon_prime_titles.csv",
                 "disney": "disney_plus_titles.csv", "hulu": "hulu_titles.csv"}
BOM = b"\xef\xbb\xbf"
MAX_FIELD_CHARS = 65_536  # a catalog field longer than this is a broken row, not a synopsis (real max: ~4,000)

_QUOTED = re.compile(rb'(?:[^"]|"")*')  # inside a quoted field: up to a lone closing quote or the line end
_UNQUOTED = re.compile(rb"[^,]*")  # an unquoted field (or the rest after a closing quote): up to the next comma


def catalog_path(data_dir: str | Path, platform: str) -> Path:
    return Path(data_dir) / "catalogs" / CATALOG_FILES[platform]


def scan_line(line: bytes, in_quote: bool) -> tuple[bool, int]:
    """(still inside a quoted field at the line end, fields started on this line), given the state at its start.
    The same rules as the csv module's default dialect (non-strict): a quote not at a field's start is text."""
    body = line[:-1] if line.endswith(b"\n") else line
    n, pos, fields = len(body), 0, 1
    while True:
        if in_quote or (pos < n and body[pos] == 0x22):
            pos = _QUOTED.match(body, pos if in_quote else pos + 1).end()
            if pos >= n:
                return True, fields
            pos += 1  # the closing quote
            in_quote = False
        pos = _UNQUOTED.match(body, pos).end()
        if pos >= n:
            return False, fields
        pos += 1  # the comma
        fields += 1


@dataclass
class RawRecord:
    row: int  # 1-based data row number (header excluded)
    line: int  # first physical line, 1-based (the header is line 1)
    lines: int  # physical lines it spans
    data: bytes
    problem: str | None = None  # set when the tokenizer had to cut it (unclosed quote)


def physical_lines(data: bytes) -> list[bytes]:
    """Lines with their terminators; a final line without a newline counts too."""
    parts = data.split(b"\n")
    return [p + b"\n" for p in parts[:-1]] + ([parts[-1]] if parts[-1] else [])


def split_records(lines: list[bytes], ncols: int, first_line: int = 2) -> tuple[list[RawRecord], int]:
    """Records and the number of blank lines between them (see module docstring, pass 1)."""
    records: list[RawRecord] = []
    blank = 0
    start, buf, in_quote = 0, [], False

    def emit(problem: str | None = None) -> None:
        records.append(RawRecord(len(records) + 1, start, len(buf), b"".join(buf), problem))

    for no, line in enumerate(lines, start=first_line):
        if not buf:
            if not line.strip():
                blank += 1
                continue
            start, buf = no, [line]
            in_quote, _ = scan_line(line, False)
        elif scan_line(line, False) == (False, ncols):  # a whole record on its own: the open quote never closed
            emit(f"unclosed quote: a quoted field opened on line {start} is still open where line {no} starts "
                 f"a new record")
            start, buf, in_quote = no, [line], False
        else:
            buf.append(line)
            in_quote, _ = scan_line(line, True)
        if not in_quote:
            emit()
            buf = []
    if buf:
        emit(f"unclosed quote: a quoted field opened on line {start} is still open at the end of the file")
    return records, blank


def _decode(data: bytes, first_line: int) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = first_line + data.count(b"\n", 0, e.start)
        col = e.start - (data.rfind(b"\n", 0, e.start) + 1) + 1
        raise DataError(f"not UTF-8: byte 0x{data[e.start]:02x} at line {line}, column {col}") from None


def _csv_rows(text: str) -> list[list[str]]:
    """csv rows of one record; the csv module's own field limit is lifted for the rare record larger than it, so
    that `MAX_FIELD_CHARS` is the one limit and the reason names the field."""
    limit = csv.field_size_limit()
    if len(text) <= limit:
        return list(csv.reader(io.StringIO(text, newline="")))
    csv.field_size_limit(len(text) + 1)
    try:
        return list(csv.reader(io.StringIO(text, newline="")))
    finally:
        csv.field_size_limit(limit)


class CsvFile:
    """One CSV source (bytes) → (row, record) pairs; `accounting` says how every line was used."""

    def __init__(self, data: bytes, source: str, columns: tuple[str, ...] = COLUMNS):
        self.source = source
        self.bom = data.startswith(BOM)
        data = data[len(BOM):] if self.bom else data
        lines = physical_lines(data)
        if not b"".join(lines).strip():
            raise DataError(f"{source}: empty file (no header row); expected a header with columns "
                            f"{', '.join(columns)}")
        if data.startswith((b"\xff\xfe", b"\xfe\xff")):
            raise DataError(f"{source}: UTF-16 text (byte order mark); save the file as UTF-8")
        lead = next(i for i, line in enumerate(lines) if line.strip())  # blank lines before the header
        try:
            header_text = _decode(lines[lead], lead + 1)
        except DataError as e:
            raise DataError(f"{source}: header: {e}") from None
        self.header = next(csv.reader(io.StringIO(header_text, newline="")), [])
        self._check_header(columns)
        self.records, blank = split_records(lines[lead + 1:], len(self.header), first_line=lead + 2)
        self.blank_lines = lead + blank
        self.lines = len(lines)
        self.read = 0

    def _check_header(self, columns: tuple[str, ...]) -> None:
        missing = [c for c in columns if c not in self.header]
        if len(missing) == len(columns):
            raise DataError(f"{self.source}: no header row: the first line holds {self.header[:4]}..., expected a "
                            f"header with columns {', '.join(columns)}")
        if missing:
            raise DataError(f"{self.source}: header lacks columns {', '.join(missing)} (has {', '.join(self.header)})")
        dup = sorted({c for c in self.header if self.header.count(c) > 1})
        if dup:
            raise DataError(f"{self.source}: header names columns twice: {', '.join(dup)}")

    def parse(self, rec: RawRecord) -> dict[str, Any] | UnreadableRecord:
        """One record alone → a DictReader-shaped dict (surplus fields under None), or why it cannot be read."""
        text = rec.data.decode("utf-8", errors="replace")
        where = f"line {rec.line}" if rec.lines == 1 else f"lines {rec.line}-{rec.line + rec.lines - 1}"
        if rec.problem:
            return UnreadableRecord(rec.problem, text)
        try:
            text = _decode(rec.data, rec.line)
            rows = _csv_rows(text)
        except DataError as e:
            return UnreadableRecord(str(e), text)
        except csv.Error as e:
            return UnreadableRecord(f"malformed CSV at {where}: {e}", text)
        if len(rows) != 1:
            return UnreadableRecord(f"malformed CSV at {where}: parses to {len(rows)} rows, not 1", text)
        fields = rows[0]
        long = [(self.header[i] if i < len(self.header) else f"#{i + 1}", len(v))
                for i, v in enumerate(fields) if len(v) > MAX_FIELD_CHARS]
        if long:
            name, size = long[0]
            return UnreadableRecord(f"field {name!r} is {size:,} characters (limit {MAX_FIELD_CHARS:,}) at {where}",
                                    text)
        record: dict[str, Any] = dict(zip(self.header, fields))
        for c in self.header[len(fields):]:
            record[c] = None
        if len(fields) > len(self.header):
            record[None] = fields[len(self.header):]  # type: ignore[index]
        return record

    def rows(self, limit: int | None = None) -> Iterator[tuple[int, dict[str, Any] | UnreadableRecord]]:
        for rec in self.records[:limit]:
            self.read += 1
            yield rec.row, self.parse(rec)

    @property
    def accounting(self) -> dict[str, Any]:
        record_lines = sum(r.lines for r in self.records)
        return {"lines": self.lines, "header_lines": 1, "blank_lines": self.blank_lines, "record_lines": record_lines,
                "lines_accounted": 1 + self.blank_lines + record_lines == self.lines,
                "records_in_file": len(self.records), "records_read": self.read, "bom": self.bom,
                "unclosed_quotes": sum(r.problem is not None for r in self.records)}


def iter_csv_records(text_or_path: str | Path | bytes, source: str = "") -> Iterator[tuple[int, Any]]:
    """(1-based data row number, record or UnreadableRecord) from CSV text, bytes or a path."""
    if isinstance(text_or_path, Path):
        data, source = text_or_path.read_bytes(), source or str(text_or_path)
    elif isinstance(text_or_path, str):
        data = text_or_path.encode("utf-8", errors="surrogateescape")
    else:
        data = text_or_path
    return CsvFile(data, source or "csv").rows()


class CsvCatalogSource:
    """Reads one platform's catalog file; `limit` caps rows for quick runs. `accounting` after reading."""

    def __init__(self, platform: str, path: str | Path, limit: int | None = None):
        self.platform = platform
        self.path = Path(path)
        self.limit = limit
        self.file: CsvFile | None = None

    def records(self) -> Iterator[tuple[int, dict[str, Any] | UnreadableRecord]]:
        if not self.path.is_file():
            raise FileNotFoundError(f"catalog file for {self.platform} not found: {self.path} "
                                    f"(put the Kaggle CSVs under <data_dir>/catalogs/, see README 'Data')")
        self.file = CsvFile(self.path.read_bytes(), str(self.path))
        if not self.file.records:
            raise DataError(f"{self.path}: a header but no data rows (disable the platform with "
                            f"connectors.{self.platform}.enabled: false if that is intended)")
        yield from self.file.rows(self.limit)

    @property
    def accounting(self) -> dict[str, Any] | None:
        return self.file.accounting if self.file else None
