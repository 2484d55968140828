"""Exact-id search for a user's traces in a directory tree: the check `mgw privacy forget` runs after deleting.

"Exact" means an id matches as a whole token, never as a substring: forgetting `ml:1` must not be alarmed by
`ml:10`, and must find `"ml:1"` in a JSON list or `ml:1.` at the end of a sentence. Files are read by their
structure where a raw byte scan would be blind or wrong: JSON/JSONL (every string, keys included), CSV (every
cell), Parquet (every string column, dictionary-encoded and compressed pages included) and the JSON header of
safetensors files. Every other file (SQLite databases and their WAL, snapshots, HTML, text, numpy arrays) is
scanned as raw bytes with the same token boundaries. Files encrypted by mgw (`MGW1` header) cannot hold an id in
clear; they are counted as `opaque` and checked by their store's own `find`.
"""
from __future__ import annotations

import csv
import json
import mmap
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator

_ID = rb"\w:@.\-"  # characters that continue an id token (a trailing '.' does not: "ml:1." ends a sentence)
ENCRYPTED_MAGIC = b"MGW1"


def token_pattern(needles: Iterable[str], dot_continues: bool = True) -> re.Pattern[bytes]:
    """One regex that matches any needle as a whole id token. With `dot_continues`, "ml:1.5" is another token; without
    it (for redaction), "ml:1.txt" is "ml:1" followed by an extension."""
    alts = b"|".join(re.escape(n.encode()) for n in sorted(set(needles), key=len, reverse=True) if n)
    if not alts:
        raise ValueError("no ids to look for")
    return re.compile(rb"(?<![" + _ID + rb"])(?:" + alts + rb")(?![\w:@\-])" + (rb"(?!\.\w)" if dot_continues else b""))


def _strings(obj: Any) -> Iterator[str]:
    if isinstance(obj, str):
        yield obj
    elif isinstance(obj, bytes):
        yield obj.decode("utf-8", errors="replace")
    elif isinstance(obj, dict):
        for k, v in obj.items():
            yield str(k)
            yield from _strings(v)
    elif isinstance(obj, (list, tuple)):
        for v in obj:
            yield from _strings(v)


def _json_strings(path: Path) -> Iterator[str]:
    yield from _strings(json.loads(path.read_text(encoding="utf-8")))


def _jsonl_strings(path: Path) -> Iterator[str]:
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            yield from _strings(json.loads(line))


def _csv_strings(path: Path) -> Iterator[str]:
    with open(path, newline="", encoding="utf-8") as f:
        for row in csv.reader(f):
            yield from row


def _parquet_strings(path: Path) -> Iterator[str]:
    import pyarrow.parquet as pq

    for col in pq.read_table(path).columns:  # lists, structs and dictionary columns come back as Python values
        yield from _strings(col.to_pylist())


def _safetensors_strings(path: Path) -> Iterator[str]:
    with open(path, "rb") as f:
        n = int.from_bytes(f.read(8), "little")
        header = json.loads(f.read(n))
    yield from _strings(header)


READERS = {".json": _json_strings, ".jsonl": _jsonl_strings, ".csv": _csv_strings, ".parquet": _parquet_strings,
           ".safetensors": _safetensors_strings}


@dataclass
class ScanResult:
    hits: list[str] = field(default_factory=list)  # "path", "path (raw bytes)" or "path (file name)"
    files: int = 0
    opaque: list[str] = field(default_factory=list)  # mgw-encrypted files (checked by their holder)
    unreadable: list[str] = field(default_factory=list)  # structured files that did not parse: raw-scanned

    def to_dict(self) -> dict[str, Any]:
        return {"files": self.files, "hits": self.hits, "opaque": len(self.opaque), "unreadable": self.unreadable}


def _raw_hit(path: Path, pattern: re.Pattern[bytes]) -> bool:
    if path.stat().st_size == 0:
        return False
    with open(path, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as m:
        return pattern.search(m) is not None


def scan_file(path: Path, pattern: re.Pattern[bytes], result: ScanResult) -> None:
    result.files += 1
    if any(pattern.search(n.encode("utf-8", errors="surrogateescape")) for n in (str(path), path.stem)):
        result.hits.append(f"{path} (file name)")
        return
    with open(path, "rb") as f:
        head = f.read(4)
    if head == ENCRYPTED_MAGIC:
        result.opaque.append(str(path))
        return
    reader = READERS.get(path.suffix.lower())
    if reader is not None:
        try:
            if any(pattern.search(s.encode("utf-8", errors="surrogateescape")) for s in reader(path)):
                result.hits.append(str(path))
            return
        except Exception as e:  # noqa: BLE001 - a file that does not parse as its suffix says: scan its bytes
            result.unreadable.append(f"{path}: {type(e).__name__}")
    if _raw_hit(path, pattern):
        result.hits.append(f"{path} (raw bytes)")


def scan_tree(roots: Iterable[str | Path], needles: Iterable[str]) -> ScanResult:
    """Every file under `roots` (symlinks not followed) checked for any of `needles` as an exact id token."""
    pattern = token_pattern(needles)
    result = ScanResult()
    seen: set[Path] = set()
    for root in roots:
        root = Path(root)
        if not root.exists():
            continue
        for dirpath, dirnames, files in os.walk(root):
            dirnames.sort()
            for name in sorted(files):
                p = Path(dirpath) / name
                real = p.resolve()
                if p.is_symlink() or real in seen or not p.is_file():
                    continue
                seen.add(real)
                scan_file(p, pattern, result)
    return result


def redact(text: str, needles: Iterable[str], mask: str = "<user>") -> str:
    """`text` with every exact-id occurrence of the needles replaced (for receipts that list where a hit was)."""
    raw = text.encode("utf-8", errors="surrogateescape")
    return token_pattern(needles, dot_continues=False).sub(mask.encode(), raw).decode("utf-8", errors="surrogateescape")


def text_has_id(text: str, needles: Iterable[str]) -> bool:
    """The same token rule on one string (for stores that check their own rows)."""
    return token_pattern(needles).search(text.encode()) is not None
