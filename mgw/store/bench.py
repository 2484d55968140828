"""`mgw store bench` → reports/metrics/storage.json: the crash test (SIGKILL, in a subprocess), the concurrency
test, insert throughput through the transactional path vs the raw index (same backend, same vectors, same
batches), snapshot size / write time / recovery time, metrics-archive downsampling and query-log tiering."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from tqdm import tqdm

from mgw.config import ROOT, Params
from mgw import claims as seed_claims
from mgw.store.backend import Backend
from mgw.store.content import ContentStore
from mgw.store.crash import run_concurrency_test
from mgw.store.metrics_archive import DAY, MetricsArchive
from mgw.store.stores import index_backend
from mgw.store.querylog import QueryLog



def bench_vectors(params: Params, n: int, embeddings: str | Path | None = None) -> tuple[np.ndarray, str]:
    """The first n catalog embeddings when present, else seeded unit vectors of the embedding dimension."""
    path = Path(embeddings) if embeddings else ROOT / "data" / "processed" / "embeddings.npy"
    if path.exists():
        x = np.load(path, mmap_mode="r")
        if len(x) >= min(n, 100):
            return np.asarray(x[:n], np.float32), str(path)
    rng = np.random.default_rng(params.seed)
    x = rng.normal(size=(n, params.embed.dim)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True), f"synthetic normal, seed {params.seed}"


def backend_spec(params: Params) -> str:
    return params.store.backend or params.index.backend




def throughput(params: Params, workdir: Path, vectors: np.ndarray, backend: str) -> dict[str, Any]:
    """Rows/s inserting `vectors` in batches: ContentStore transactions vs `index.add` on the raw index."""
    batch = params.store.bench_batch
    threads = params.index.threads
    be = Backend.resolve(index_backend(params, backend))
    n = len(vectors)
    ids = [f"r{i}" for i in range(n)]
    docs = [{"entity_id": i, "title": i, "type": "movie", "genres": ["drama"]} for i in ids]

    raw = be.factory(params.embed.dim, params.index.metric)
    t0 = time.perf_counter()
    for s in range(0, n, batch):
        (raw.build if s == 0 else raw.add)(vectors[s:s + batch], ids[s:s + batch])
    raw_s = time.perf_counter() - t0

    store = ContentStore(workdir / "tput", dim=params.embed.dim, backend=be, metric=params.index.metric,
                         compact_min=params.store.compact_min, compact_ratio=params.store.compact_ratio)
    commit_ms = []
    t0 = time.perf_counter()
    for s in tqdm(range(0, n, batch), desc="transactional insert", leave=False):
        t1 = time.perf_counter()
        with store.transaction() as tx:
            tx.insert_batch(docs[s:s + batch], vectors[s:s + batch])
        commit_ms.append((time.perf_counter() - t1) * 1e3)
    tx_s = time.perf_counter() - t0
    q = vectors[np.random.default_rng(params.seed).choice(n, min(200, n), replace=False)]
    t0 = time.perf_counter()
    for row in q:
        store.search(row, 10)
    store_q_ms = (time.perf_counter() - t0) / len(q) * 1e3
    t0 = time.perf_counter()
    for row in q:
        raw.search(row, 10)
    raw_q_ms = (time.perf_counter() - t0) / len(q) * 1e3
    # snapshot + recovery
    t0 = time.perf_counter()
    snap = store.snapshot()
    snap_s = time.perf_counter() - t0
    store.close()
    t0 = time.perf_counter()
    reopened = ContentStore(workdir / "tput", dim=params.embed.dim, backend=be, metric=params.index.metric)
    open_snapshot_s = time.perf_counter() - t0
    consistent = reopened.check()["consistent"]
    reopened.close()
    for p in (workdir / "tput" / "snapshots").glob("*"):
        p.unlink()
    t0 = time.perf_counter()
    rebuilt = ContentStore(workdir / "tput", dim=params.embed.dim, backend=be, metric=params.index.metric)
    open_rebuild_s = time.perf_counter() - t0
    rebuilt.close()
    db_bytes = sum(p.stat().st_size for p in (workdir / "tput").glob("content.db*"))
    return {
        "backend": backend, "rows": n, "batch": batch, "threads": threads,
        "raw_index_rows_per_s": n / raw_s, "transactional_rows_per_s": n / tx_s,
        "ratio_transactional_over_raw": (n / tx_s) / (n / raw_s),
        "commit_ms": {"p50": float(np.percentile(commit_ms, 50)), "p95": float(np.percentile(commit_ms, 95)),
                      "max": float(np.max(commit_ms))},
        "search_ms_per_query": {"store": store_q_ms, "raw_index": raw_q_ms},
        "snapshot": {"bytes": snap.meta["bytes"], "bytes_per_row": snap.meta["bytes"] / n, "write_s": snap_s,
                     "db_bytes": db_bytes},
        "recovery": {"open_from_snapshot_s": open_snapshot_s, "open_with_full_rebuild_s": open_rebuild_s,
                     "consistent_after_open": consistent},
        "seed_claim_batch_inserts_per_s": seed_claims.value("s5.2-batch-inserts"),
    }


def crash(params: Params, workdir: Path, backend: str, runs: int) -> dict[str, Any]:
    """Runs mgw.store.crash in its own process (it forks writers; fork needs a thread-free parent)."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "mgw.store.crash", str(workdir / "crash"), "--runs", str(runs), "--backend", backend,
           "--seed", str(params.seed), "--max-delay", str(params.store.crash_max_delay_s)]
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT)
    if not out.stdout.strip():
        raise RuntimeError(f"crash test produced no result: {out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def archive_demo(params: Params, workdir: Path, days: int = 400, step_min: int = 10) -> dict[str, Any]:
    """A seeded synthetic history of `days` of PerformanceSnapshots every `step_min` minutes, downsampled
    per seed §4.4.3, then queried over 1 day / 2 weeks / 6 months / 400 days."""
    rng = np.random.default_rng(params.seed)
    now = 1_767_225_600.0  # 2026-01-01T00:00Z, fixed so the series is reproducible
    ts = np.arange(now - days * DAY, now, step_min * 60.0)
    diurnal = 1 + 0.3 * np.sin(2 * np.pi * (ts % DAY) / DAY)
    frame = pd.DataFrame({"ts": ts, "search_latency_p95": 0.12 * diurnal * rng.lognormal(0, 0.2, len(ts)),
                          "throughput": 900 * diurnal * rng.lognormal(0, 0.1, len(ts)),
                          "cache_hit_rate": np.clip(0.8 + rng.normal(0, 0.03, len(ts)), 0, 1)})
    arch = MetricsArchive(workdir / "metrics")
    arch.record_many(frame)
    before = arch.counts()
    t0 = time.perf_counter()
    moved = arch.downsample(now=now)
    down_s = time.perf_counter() - t0
    after = arch.counts()
    series = {}
    for label, span in (("1d", 1), ("14d", 14), ("180d", 180), ("400d", 400)):
        df = arch.query("search_latency_p95", now - span * DAY, now)
        series[label] = {"resolution": df["resolution"].value_counts().to_dict(), "ts": df["ts"].tolist(),
                         "value": df["value"].round(5).tolist()}
    arch.close()
    return {"days": days, "step_min": step_min, "points_before": before, "points_after": after, "moved": moved,
            "downsample_s": down_s, "series": series}


def tiering_demo(params: Params, workdir: Path, n: int = 3000, days: int = 120) -> dict[str, Any]:
    from mgw.store.crypto import Cipher, new_key

    rng = np.random.default_rng(params.seed)
    cipher = Cipher(new_key())
    ql = QueryLog(workdir / "logs", cipher.pseudonym, cipher, retention_days=params.store.querylog_retention_days,
                  pseudonymize_after_days=params.store.pseudonymize_after_days)
    now = 1_767_225_600.0
    for i in range(n):
        res = [f"ent:{rng.integers(5000)}" for _ in range(10)]
        ql.log(f"user{rng.integers(200)}", f"query {rng.integers(1000)}", res, float(rng.lognormal(2, 0.5)),
               clicks=res[:1] if rng.random() < 0.4 else [], embedding=rng.normal(size=8),
               ts=now - rng.uniform(0, days) * DAY)
    t0 = time.perf_counter()
    moved = ql.tier(now=now)
    secs = time.perf_counter() - t0
    sizes = ql.tier_sizes()
    ql.close()
    return {"rows_logged": n, "days": days, "moved": moved, "seconds": secs, "tiers": sizes}


def run_storage_benchmark(params: Params, runs: int | None = None, items: int | None = None,
                          embeddings: str | Path | None = None, workdir: str | Path | None = None,
                          metrics_dir: str | Path | None = None) -> dict[str, Any]:
    from mgw.reporting import write_metrics

    backend = backend_spec(params)
    runs = runs or params.store.crash_runs
    vectors, source = bench_vectors(params, items or params.store.bench_items, embeddings)
    with tempfile.TemporaryDirectory(dir=workdir) as d:
        d = Path(d)
        result: dict[str, Any] = {"backend": backend, "vectors": source}
        result["crash"] = crash(params, d, backend, runs)
        result["concurrency"] = run_concurrency_test(
            d / "conc", readers=params.store.concurrency_readers, seconds=params.store.concurrency_seconds,
            backend=Backend.resolve(index_backend(params, backend)), seed=params.seed)
        result["concurrency"]["backend"] = backend
        result["throughput"] = throughput(params, d, vectors, backend)
        result["metrics_archive"] = archive_demo(params, d)
        result["tiering"] = tiering_demo(params, d)
    result["passed"] = {"crash": result["crash"]["failures"] == 0 and result["crash"]["kills"] == runs,
                        "concurrency": not result["concurrency"]["errors"] and result["concurrency"]["torn_reads"] == 0
                        and result["concurrency"]["consistent_after"]}
    write_metrics("storage", result, seed=params.seed, threads=params.index.threads, metrics_dir=metrics_dir)
    return result
