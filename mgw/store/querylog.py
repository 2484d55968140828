"""Query log (seed §2.3.1) with lifecycle tiers (seed §4.4): hot SQLite → warm Parquet → cold zstd Parquet →
archive (zstd-19 Parquet), moved by age by `tier()`, pseudonymised after `pseudonymize_after_days` and deleted
after `retention_days`.

Local stand-ins for the seed's backends: hot = SQLite table (seed: Redis), warm = one Parquet file per day
(seed: PostgreSQL), cold = zstd Parquet per month (seed: GCS), archive = zstd level 19 Parquet per year
(seed: GCS archive). Warm and colder files are AES-256-GCM encrypted when a cipher is given (seed: encryption
true from warm on). Every file is written atomically (temp, fsync, rename).
"""
from __future__ import annotations

import io
import json
import os
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from mgw.errors import DataError
from mgw.store.content import connect
from mgw.store.crypto import Cipher

DAY = 86400.0
COLUMNS = ["ts", "user", "pseudonymous", "query", "embedding", "results", "clicks", "latency_ms", "satisfaction"]


@dataclass(frozen=True)
class Tier:
    name: str
    after_days: float  # rows at least this old belong here
    compression: str | None
    level: int | None
    period: str  # file granularity: day | month | year


TIERS = (Tier("warm", 7, None, None, "day"), Tier("cold", 30, "zstd", 3, "month"),
         Tier("archive", 365, "zstd", 19, "year"))


def satisfaction(results: Sequence[str], clicks: Sequence[str]) -> float:
    """Reciprocal rank of the first clicked result (0 when nothing was clicked)."""
    for rank, r in enumerate(results, 1):
        if r in clicks:
            return 1.0 / rank
    return 0.0


def _period(ts: float, period: str) -> str:
    d = datetime.fromtimestamp(ts, tz=timezone.utc)
    return {"day": d.strftime("%Y-%m-%d"), "month": d.strftime("%Y-%m"), "year": d.strftime("%Y")}[period]


class QueryLog:
    def __init__(self, root: str | Path, pseudonymize: Callable[[str], str], cipher: Cipher | None = None,
                 retention_days: float = 90, pseudonymize_after_days: float = 30, archive_max_days: float = 2555):
        self.root = Path(root).resolve()
        self.root.mkdir(parents=True, exist_ok=True)
        self.pseudonymize, self.cipher = pseudonymize, cipher
        self.retention_days, self.pseudo_days, self.archive_max_days = retention_days, pseudonymize_after_days, archive_max_days
        self.conn = connect(self.root / "querylog.db")
        self.conn.executescript("""CREATE TABLE IF NOT EXISTS queries (ts REAL NOT NULL, user TEXT NOT NULL,
            pseudonymous INTEGER NOT NULL DEFAULT 0, query TEXT NOT NULL, embedding BLOB, results TEXT NOT NULL,
            clicks TEXT NOT NULL, latency_ms REAL NOT NULL, satisfaction REAL NOT NULL);
            CREATE INDEX IF NOT EXISTS queries_ts ON queries(ts); CREATE INDEX IF NOT EXISTS queries_user ON queries(user);""")
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ write / read
    def log(self, user: str, query: str, results: Sequence[str], latency_ms: float, clicks: Sequence[str] = (),
            embedding: np.ndarray | None = None, ts: float | None = None) -> None:
        if not user or not isinstance(query, str):
            raise DataError("a query log row needs a user and a query string")
        if not np.isfinite(latency_ms) or latency_ms < 0:
            raise DataError(f"latency must be a finite non-negative number, got {latency_ms}")
        emb = None if embedding is None else np.asarray(embedding, np.float32).tobytes()
        with self._lock:
            self.conn.execute("INSERT INTO queries VALUES (?,?,0,?,?,?,?,?,?)",
                              (time.time() if ts is None else ts, user, query, emb, json.dumps(list(results)),
                               json.dumps(list(clicks)), float(latency_ms), satisfaction(results, clicks)))

    def rows(self, tiers: Sequence[str] = ("hot", "warm", "cold", "archive")) -> pd.DataFrame:
        """Every row in the given tiers, with a `tier` column (decrypting files)."""
        frames = []
        if "hot" in tiers:
            df = pd.read_sql_query("SELECT * FROM queries", self.conn)
            frames.append(df.assign(tier="hot"))
        for t in TIERS:
            if t.name in tiers:
                for f in self._files(t):
                    frames.append(self._read(f).assign(tier=t.name))
        frames = [f for f in frames if len(f)]
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=COLUMNS + ["tier"])

    # ------------------------------------------------------------------ files
    def _dir(self, tier: Tier) -> Path:
        return self.root / "querylog" / tier.name

    def _files(self, tier: Tier) -> list[Path]:
        d = self._dir(tier)
        return sorted(d.glob("*.parquet*")) if d.exists() else []

    def _read(self, path: Path) -> pd.DataFrame:
        raw = path.read_bytes()
        if path.suffix == ".enc":
            if self.cipher is None:
                raise DataError(f"{path.name} is encrypted; a key is needed")
            raw = self.cipher.decrypt(raw, path.name.encode())
        return pq.read_table(io.BytesIO(raw)).to_pandas()

    def _write(self, tier: Tier, key: str, df: pd.DataFrame) -> Path:
        d = self._dir(tier)
        d.mkdir(parents=True, exist_ok=True)
        name = f"{key}.parquet" + (".enc" if self.cipher else "")
        path = d / name
        if df.empty:
            path.unlink(missing_ok=True)
            return path
        buf = io.BytesIO()
        pq.write_table(pa.Table.from_pandas(df[COLUMNS].reset_index(drop=True), preserve_index=False), buf,
                       compression=tier.compression or "none", compression_level=tier.level)
        raw = buf.getvalue()
        if self.cipher:
            raw = self.cipher.encrypt(raw, name.encode())
        tmp = path.with_name("." + name + ".tmp")
        with open(tmp, "wb") as f:
            f.write(raw)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        return path

    def _merge(self, tier: Tier, df: pd.DataFrame) -> None:
        for key, part in df.groupby(df["ts"].map(lambda t: _period(t, tier.period))):
            path = self._dir(tier) / (f"{key}.parquet" + (".enc" if self.cipher else ""))
            old = self._read(path) if path.exists() else None
            self._write(tier, key, pd.concat([old, part]) if old is not None else part)

    def _pseudo(self, df: pd.DataFrame) -> pd.DataFrame:
        df = df.copy()
        mask = df["pseudonymous"].astype(int) == 0
        df.loc[mask, "user"] = df.loc[mask, "user"].map(self.pseudonymize)
        df["pseudonymous"] = 1
        return df

    # ------------------------------------------------------------------ lifecycle job
    def tier(self, now: float | None = None) -> dict[str, int]:
        """The daily job (seed §4.4.2): pseudonymise, move rows to colder tiers by age, delete expired rows.
        Files are rewritten before the source rows are deleted, so a crash can duplicate, never lose, rows;
        duplicates are dropped on the next run."""
        now = time.time() if now is None else now
        moved = {"pseudonymised": 0, "deleted": 0, "warm": 0, "cold": 0, "archive": 0}
        age_limit = min(self.retention_days, self.archive_max_days)
        with self._lock:
            # hot: pseudonymise in place, then move out what is older than the warm threshold
            old = self.conn.execute("SELECT rowid, user FROM queries WHERE pseudonymous=0 AND ts < ?",
                                    (now - self.pseudo_days * DAY,)).fetchall()
            self.conn.execute("BEGIN IMMEDIATE")
            for rid, user in old:
                self.conn.execute("UPDATE queries SET user=?, pseudonymous=1 WHERE rowid=?", (self.pseudonymize(user), rid))
            self.conn.execute("COMMIT")
            moved["pseudonymised"] += len(old)
            hot = pd.read_sql_query("SELECT rowid AS _rid, * FROM queries WHERE ts < ?", self.conn,
                                    params=(now - TIERS[0].after_days * DAY,))
            files = {t.name: pd.concat([self._read(f) for f in self._files(t)] or [pd.DataFrame(columns=COLUMNS)])
                     for t in TIERS}
            everything = pd.concat([hot.drop(columns="_rid")] + [files[t.name] for t in TIERS], ignore_index=True)
            everything = everything.drop_duplicates(subset=["ts", "user", "query", "results"])
            if len(everything):
                age = (now - everything["ts"].astype(float)) / DAY
                expired = age >= age_limit
                moved["deleted"] = int(expired.sum())
                everything = everything[~expired]
                age = age[~expired]
                old_mask = (age >= self.pseudo_days) & (everything["pseudonymous"].astype(int) == 0)
                moved["pseudonymised"] += int(old_mask.sum())
                everything = pd.concat([everything[~old_mask], self._pseudo(everything[old_mask])])
                age = (now - everything["ts"].astype(float)) / DAY
            for i, t in enumerate(TIERS):
                upper = TIERS[i + 1].after_days if i + 1 < len(TIERS) else float("inf")
                part = everything[(age >= t.after_days) & (age < upper)] if len(everything) else everything
                for f in self._files(t):
                    f.unlink()
                if len(part):
                    self._merge(t, part)
                moved[t.name] = len(part)
            if len(hot):
                self.conn.execute("BEGIN IMMEDIATE")
                self.conn.executemany("DELETE FROM queries WHERE rowid=?", [(int(r),) for r in hot["_rid"]])
                self.conn.execute("COMMIT")
            self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        moved["hot"] = self.conn.execute("SELECT COUNT(*) FROM queries").fetchone()[0]
        return moved

    def forget(self, user: str) -> int:
        """Remove the user's rows (by id and by pseudonym) from every tier; files are rewritten."""
        names = {user, self.pseudonymize(user)}
        n = 0
        with self._lock:
            self.conn.execute("BEGIN IMMEDIATE")
            for u in names:
                n += self.conn.execute("DELETE FROM queries WHERE user=?", (u,)).rowcount
            self.conn.execute("COMMIT")
            self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            for t in TIERS:
                for f in self._files(t):
                    df = self._read(f)
                    hit = df["user"].isin(names)
                    if hit.any():
                        n += int(hit.sum())
                        key = f.name.split(".parquet")[0]
                        self._write(t, key, df[~hit])
        return n

    def rotate_key(self, new_cipher: Cipher) -> int:
        """Re-encrypt every tier file under `new_cipher` (each file swapped atomically)."""
        n = 0
        with self._lock:
            for t in TIERS:
                for f in self._files(t):
                    df = self._read(f)
                    old, self.cipher = self.cipher, new_cipher
                    try:
                        self._write(t, f.name.split(".parquet")[0], df)
                    finally:
                        self.cipher = old
                    n += 1
            self.cipher = new_cipher
        return n

    def tier_sizes(self) -> dict[str, dict[str, int]]:
        out = {"hot": {"rows": self.conn.execute("SELECT COUNT(*) FROM queries").fetchone()[0],
                       "bytes": (self.root / "querylog.db").stat().st_size}}
        for t in TIERS:
            fs = self._files(t)
            out[t.name] = {"files": len(fs), "bytes": sum(f.stat().st_size for f in fs),
                           "rows": sum(len(self._read(f)) for f in fs)}
        return out

    def close(self) -> None:
        self.conn.close()
