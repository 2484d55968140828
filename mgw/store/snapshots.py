"""Crash-safe snapshot files (seed §2.2.2): `<prefix>-<ISO time>.rvdb` + `.meta.json`.

A snapshot is a self-contained SQLite file. It is written to a temp name, fsynced, renamed; then its
meta (count, sha256, params, watermark) is written the same way. A snapshot counts only when both files
exist and the checksum matches, so a crash at any point leaves either a valid snapshot or none;
a corrupt or truncated one is skipped with a warning, never loaded. Retention: keep the newest
`max_snapshots` valid ones and drop those older than `max_age_s` (the newest valid one always stays).
Prune deletes an invalid snapshot only when its `.rvdb` itself is broken (fails SQLite's integrity check:
truncated, overwritten). A sound `.rvdb` whose meta is missing, damaged or disagrees with it is *unverified*:
never loaded, never counted as a recovery point, and never deleted automatically (`mgw snapshot list` shows it),
because the file may be the only copy of that state.
"""
from __future__ import annotations

import json
import logging
import os
import sqlite3
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

from mgw.errors import CorruptFileError, DataError
from mgw.reporting import write_json_atomic
from mgw.reporting import sha256_file

log = logging.getLogger(__name__)
EXT = ".rvdb"




def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def iso_now(t: float | None = None) -> str:
    dt = datetime.fromtimestamp(time.time() if t is None else t, tz=timezone.utc)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.%f") + "Z"


def resolve_inside(root: str | Path, sub: str | Path) -> Path:
    """`sub` resolved against `root`; a path that escapes the root is a DataError (nothing is created)."""
    root = Path(root).resolve()
    p = (root / sub).resolve()
    if p != root and root not in p.parents:
        raise DataError(f"snapshot directory {p} is outside the configured store root {root}")
    return p


@dataclass(frozen=True)
class Snapshot:
    path: Path
    meta: dict[str, Any]

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def created(self) -> float:
        return float(self.meta["created_unix"])

    @property
    def watermark(self) -> int:
        return int(self.meta.get("watermark", 0))


def meta_path(path: Path) -> Path:
    return path.with_name(path.name[: -len(EXT)] + ".meta.json")


def is_sound_sqlite(path: Path) -> bool:
    """The file opens read-only as SQLite and passes `PRAGMA integrity_check` (structure, not content)."""
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro&immutable=1", uri=True)
        try:
            return conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        finally:
            conn.close()
    except sqlite3.Error:
        return False


class SnapshotDir:
    """The snapshots of one kind (`prefix` = content | users) in one directory."""

    def __init__(self, directory: str | Path, prefix: str):
        self.dir = Path(directory)
        self.prefix = prefix

    # ------------------------------------------------------------------ write
    def write(self, fill: Callable[[Path], dict[str, Any]], params: dict[str, Any] | None = None,
              now: float | None = None) -> Snapshot:
        """`fill(tmp_path)` writes the SQLite file and returns meta fields (count, watermark, ...)."""
        self.dir.mkdir(parents=True, exist_ok=True)
        now = time.time() if now is None else now
        stamp = iso_now(now)
        final = self.dir / f"{self.prefix}-{stamp}{EXT}"
        n = 1
        while final.exists():
            final = self.dir / f"{self.prefix}-{stamp}-{n}{EXT}"
            n += 1
        tmp = final.with_name("." + final.name + ".tmp")
        try:
            fields = fill(tmp)
            with open(tmp, "rb+") as f:
                os.fsync(f.fileno())
            meta = {"kind": self.prefix, "file": final.name, "created": stamp, "created_unix": now,
                    "bytes": tmp.stat().st_size, "sha256": sha256_file(tmp), "params": params or {}, **fields}
            os.replace(tmp, final)
            write_json_atomic(meta_path(final), meta)
            fsync_dir(self.dir)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        return Snapshot(final, meta)

    def rewrite(self, snap: Snapshot, edit: Callable[[Path], dict[str, Any]]) -> Snapshot:
        """Copy, edit the copy (`edit(tmp)` returns changed meta fields), then swap it in atomically."""
        tmp = snap.path.with_name("." + snap.name + ".rewrite.tmp")
        try:
            tmp.write_bytes(snap.path.read_bytes())
            fields = edit(tmp)
            with open(tmp, "rb+") as f:
                os.fsync(f.fileno())
            if not snap.meta:  # unverified: edit the file only, its meta stays as damaged as it was
                os.replace(tmp, snap.path)
                fsync_dir(self.dir)
                return snap
            meta = {**snap.meta, **fields, "bytes": tmp.stat().st_size, "sha256": sha256_file(tmp),
                    "rewritten": iso_now()}
            # meta first with the new checksum would invalidate the old file; file first does the same.
            # Either way a crash in between leaves an invalid (skipped, later pruned) snapshot, never a wrong one.
            os.replace(tmp, snap.path)
            write_json_atomic(meta_path(snap.path), meta)
            fsync_dir(self.dir)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        return Snapshot(snap.path, meta)

    # ------------------------------------------------------------------ read
    def candidates(self) -> list[Path]:
        if not self.dir.exists():
            return []
        return sorted((p for p in self.dir.glob(f"{self.prefix}-*{EXT}")), key=lambda p: p.name, reverse=True)

    def validate(self, path: Path) -> Snapshot:
        """The snapshot at `path`, or CorruptFileError saying why it cannot be trusted."""
        mp = meta_path(path)
        try:
            meta = json.loads(mp.read_text())
        except (OSError, ValueError) as e:
            raise CorruptFileError(f"{path.name}: meta missing or unreadable ({e})") from e
        if not isinstance(meta, dict) or not isinstance(meta.get("created_unix"), (int, float)):
            raise CorruptFileError(f"{path.name}: meta {mp.name} is not a snapshot meta object")
        try:
            size = path.stat().st_size
        except OSError as e:
            raise CorruptFileError(f"{path.name}: file missing ({e})") from e
        if size != meta.get("bytes"):
            raise CorruptFileError(f"{path.name}: {size} bytes, meta says {meta.get('bytes')} (truncated?)")
        if sha256_file(path) != meta.get("sha256"):
            raise CorruptFileError(f"{path.name}: checksum mismatch")
        return Snapshot(path, meta)

    def valid(self, warn: bool = True) -> list[Snapshot]:
        """Valid snapshots, newest first; invalid ones are logged and skipped."""
        out = []
        for p in self.candidates():
            try:
                out.append(self.validate(p))
            except CorruptFileError as e:
                if warn:
                    log.warning("skipping snapshot: %s", e)
        return sorted(out, key=lambda s: (s.created, s.name), reverse=True)

    def unverified(self) -> list[Snapshot]:
        """Invalid snapshots whose `.rvdb` is still a sound database (kept by prune; meta = {})."""
        out = []
        for p in self.candidates():
            try:
                self.validate(p)
            except CorruptFileError:
                if is_sound_sqlite(p):
                    out.append(Snapshot(p, {}))
        return out

    def listing(self) -> list[dict[str, Any]]:
        rows = []
        for p in self.candidates():
            try:
                s = self.validate(p)
                rows.append({"name": s.name, "valid": True, "created": s.meta["created"], "count": s.meta.get("count"),
                             "watermark": s.watermark, "bytes": s.meta["bytes"]})
            except CorruptFileError as e:
                rows.append({"name": p.name, "valid": False, "error": str(e),
                             "file": "sound (kept, unverified)" if is_sound_sqlite(p) else "broken (pruned)"})
        return rows

    def find(self, name: str) -> Snapshot:
        p = resolve_inside(self.dir, name)
        if not p.name.endswith(EXT):
            p = p.with_name(p.name + EXT)
        return self.validate(p)

    # ------------------------------------------------------------------ retention
    def prune(self, max_snapshots: int, max_age_s: float, now: float | None = None) -> list[str]:
        """Apply retention; also remove broken snapshots and leftover temp files. Returns removed names.
        Unverified snapshots (sound file, bad meta) are kept and logged, never removed here."""
        now = time.time() if now is None else now
        removed: list[str] = []
        valid = self.valid(warn=False)
        keep = {s.path for s in valid[:max_snapshots] if now - s.created <= max_age_s}
        if valid:
            keep.add(valid[0].path)  # never leave the store without a recovery point
        valid_paths = {s.path for s in valid}
        for p in self.candidates():
            if p not in keep:
                if p not in valid_paths and is_sound_sqlite(p):
                    log.warning("keeping unverified snapshot %s: its meta does not confirm it, but the file is a "
                                "sound database (inspect it; it is never loaded while unverified)", p.name)
                    continue
                p.unlink(missing_ok=True)
                meta_path(p).unlink(missing_ok=True)
                removed.append(p.name)
        if self.dir.exists():
            for orphan in list(self.dir.glob(f".{self.prefix}-*.tmp*")) + [
                    m for m in self.dir.glob(f"{self.prefix}-*.meta.json")
                    if not m.with_name(m.name[: -len(".meta.json")] + EXT).exists()]:
                orphan.unlink(missing_ok=True)
            fsync_dir(self.dir)
        return removed
