"""Performance metrics archive (seed §2.3.2, §4.4.3): minute samples, downsampled realtime → hourly (after 7
days) → daily (after 30) → monthly (after 365), and a query that picks the resolution from the range.

Each metric has the seed's aggregation (mean | sum | max | min | p95). Downsampling aggregates whole buckets
that lie entirely before the cut-off and replaces their points in one transaction. Caveat (documented): p95 of
p95s is not the p95 of the raw samples; it is what the seed's `aggregation: 'p95'` over stored points yields.
"""
from __future__ import annotations

import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mgw.errors import DataError
from mgw.store.content import connect

DAY = 86400.0
RESOLUTIONS = ("realtime", "hourly", "daily", "monthly")
DOWNSAMPLE = (("realtime", "hourly", 7), ("hourly", "daily", 30), ("daily", "monthly", 365))  # seed §4.4.3
AGGREGATION = {  # seed §2.3.2 PerformanceSnapshot fields → aggregation
    "search_latency_p50": "mean", "search_latency_p95": "p95", "search_latency_p99": "max", "throughput": "mean",
    "cache_hit_rate": "mean", "memory_mb": "max", "index_size": "max", "uptime": "min", "error_rate": "mean",
    "degradation_score": "max", "queries": "sum",
}


def bucket(ts: float, resolution: str) -> float:
    d = datetime.fromtimestamp(ts, tz=timezone.utc)
    if resolution == "realtime":
        d = d.replace(second=0, microsecond=0)
    elif resolution == "hourly":
        d = d.replace(minute=0, second=0, microsecond=0)
    elif resolution == "daily":
        d = d.replace(hour=0, minute=0, second=0, microsecond=0)
    elif resolution == "monthly":
        d = d.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    else:
        raise DataError(f"unknown resolution {resolution!r}")
    return d.timestamp()


def bucket_array(ts: np.ndarray, resolution: str) -> np.ndarray:
    """Vectorised `bucket` (UTC has no DST, so minute/hour/day buckets are plain floor divisions)."""
    ts = np.asarray(ts, dtype=float)
    step = {"realtime": 60.0, "hourly": 3600.0, "daily": DAY}.get(resolution)
    if step is not None:
        return np.floor(ts / step) * step
    if resolution != "monthly":
        raise DataError(f"unknown resolution {resolution!r}")
    months = pd.to_datetime(ts, unit="s", utc=True).tz_localize(None).to_period("M").to_timestamp()
    return (months - pd.Timestamp("1970-01-01")) // pd.Timedelta("1s") * 1.0


def aggregate(values: np.ndarray, how: str) -> float:
    return float({"mean": np.mean, "sum": np.sum, "max": np.max, "min": np.min,
                  "p95": lambda v: np.percentile(v, 95)}[how](values))


def grouped(df: pd.DataFrame, key: str, how: str) -> tuple[pd.Series, pd.Series]:
    """Per-bucket aggregate of `value` (same numbers as `aggregate`, vectorised) and summed sample counts."""
    g = df.groupby(key)
    val = g["value"].quantile(0.95) if how == "p95" else g["value"].agg(how)
    return val, g["n"].sum()


def resolution_for(start: float, end: float) -> str:
    """Seed §4.4.3 queryTimeSeries: <7 d realtime, <30 d hourly, <365 d daily, else monthly."""
    span = end - start
    if span < 7 * DAY:
        return "realtime"
    if span < 30 * DAY:
        return "hourly"
    if span < 365 * DAY:
        return "daily"
    return "monthly"


class MetricsArchive:
    def __init__(self, root: str | Path):
        self.root = Path(root).resolve()
        self.root.mkdir(parents=True, exist_ok=True)
        self.conn = connect(self.root / "metrics.db")
        self.conn.executescript("""CREATE TABLE IF NOT EXISTS points (metric TEXT NOT NULL, resolution TEXT NOT NULL,
            ts REAL NOT NULL, value REAL NOT NULL, n INTEGER NOT NULL, PRIMARY KEY (metric, resolution, ts));""")

    def record(self, snapshot: dict[str, Any], ts: float | None = None) -> None:
        """Store one PerformanceSnapshot (flat dict of AGGREGATION keys; nested seed shape accepted)."""
        flat = _flatten(snapshot)
        unknown = set(flat) - set(AGGREGATION)
        if unknown:
            raise DataError(f"unknown metrics: {sorted(unknown)}")
        bad = {k: v for k, v in flat.items() if not np.isfinite(v)}
        if bad:
            raise DataError(f"metrics must be finite numbers: {bad}")
        t = bucket(time.time() if ts is None else ts, "realtime")
        self.conn.executemany("INSERT OR REPLACE INTO points VALUES (?, 'realtime', ?, ?, 1)",
                              [(k, t, float(v)) for k, v in flat.items()])

    def record_many(self, frame: pd.DataFrame) -> None:
        """Bulk load: columns ts + metric names (used to build long synthetic histories)."""
        b = bucket_array(frame["ts"].to_numpy(), "realtime")
        rows = [(m, t, float(v)) for m in frame.columns if m != "ts" for t, v in zip(b.tolist(), frame[m])]
        if set(frame.columns) - {"ts"} - set(AGGREGATION):
            raise DataError("unknown metric columns")
        self.conn.execute("BEGIN")
        self.conn.executemany("INSERT OR REPLACE INTO points VALUES (?, 'realtime', ?, ?, 1)", rows)
        self.conn.execute("COMMIT")

    def downsample(self, now: float | None = None) -> dict[str, int]:
        now = time.time() if now is None else now
        out = {}
        for src, dst, after in DOWNSAMPLE:
            cutoff = bucket(now - after * DAY, dst)  # only whole destination buckets
            df = pd.read_sql_query("SELECT metric, ts, value, n FROM points WHERE resolution=? AND ts < ?",
                                   self.conn, params=(src, cutoff))
            if df.empty:
                out[f"{src}->{dst}"] = 0
                continue
            df["b"] = bucket_array(df["ts"].to_numpy(), dst)
            rows = []
            for m, part in df.groupby("metric"):
                val, n = grouped(part, "b", AGGREGATION[m])
                rows += [(m, dst, float(b), float(v), int(c)) for b, v, c in zip(val.index, val.to_numpy(), n.to_numpy())]
            self.conn.execute("BEGIN IMMEDIATE")
            self.conn.execute("DELETE FROM points WHERE resolution=? AND ts < ?", (src, cutoff))
            self.conn.executemany("INSERT OR REPLACE INTO points VALUES (?,?,?,?,?)", rows)
            self.conn.execute("COMMIT")
            out[f"{src}->{dst}"] = len(df)
        return out

    def query(self, metric: str, start: float, end: float, resolution: str | None = None) -> pd.DataFrame:
        """Points of `metric` in [start, end) at the range's resolution: finer stored points are aggregated on
        the fly, coarser ones (already downsampled) are returned as they are."""
        if metric not in AGGREGATION:
            raise DataError(f"unknown metric {metric!r}")
        if end <= start:
            raise DataError("end must be after start")
        res = resolution or resolution_for(start, end)
        level = RESOLUTIONS.index(res)
        df = pd.read_sql_query("SELECT resolution, ts, value, n FROM points WHERE metric=? AND ts>=? AND ts<?",
                               self.conn, params=(metric, start, end))
        if df.empty:
            return pd.DataFrame(columns=["ts", "value", "n", "resolution"])
        df["level"] = df["resolution"].map(RESOLUTIONS.index)
        fine = df[df["level"] <= level].copy()
        coarse = df[df["level"] > level][["ts", "value", "n", "resolution"]]
        fine["b"] = bucket_array(fine["ts"].to_numpy(), res)
        val, n = grouped(fine, "b", AGGREGATION[metric]) if len(fine) else (pd.Series(dtype=float), pd.Series(dtype=int))
        agg = [{"ts": float(b), "value": float(v), "n": int(c), "resolution": res}
               for b, v, c in zip(val.index, val.to_numpy(), n.to_numpy())]
        out = pd.concat([pd.DataFrame(agg), coarse], ignore_index=True) if agg else coarse
        return out.sort_values("ts").reset_index(drop=True)

    def counts(self) -> dict[str, int]:
        return {r: c for r, c in self.conn.execute("SELECT resolution, COUNT(*) FROM points GROUP BY resolution")}

    def close(self) -> None:
        self.conn.close()


def _flatten(snap: dict[str, Any]) -> dict[str, float]:
    """Seed nested PerformanceSnapshot → flat names."""
    if "metrics" not in snap and "health" not in snap:
        return {k: float(v) for k, v in snap.items() if k != "timestamp"}
    m, h = snap.get("metrics", {}), snap.get("health", {})
    lat = m.get("searchLatency", {})
    flat = {"search_latency_p50": lat.get("p50"), "search_latency_p95": lat.get("p95"),
            "search_latency_p99": lat.get("p99"), "throughput": m.get("throughput"),
            "cache_hit_rate": m.get("cacheHitRate"), "memory_mb": m.get("memoryUsage"),
            "index_size": m.get("indexSize"), "uptime": h.get("uptime"), "error_rate": h.get("errorRate"),
            "degradation_score": h.get("degradationScore")}
    return {k: float(v) for k, v in flat.items() if v is not None}
