"""Benchmark cells as Ray tasks: each (dataset, backend, build params) cell builds its index and runs its
query sweep in one task (`bench.runner.bench_config`, unchanged), with the cell's thread budget as its CPU
request. The dataset goes to the object store once. Rows equal the single-process rows except timings,
when builds are deterministic (threads=1: parallel HNSW builds insert in a racy order, in either path)."""
from __future__ import annotations

from dataclasses import asdict
from typing import Any

from mgw.bench.datasets import Dataset
from mgw.bench.runner import Config, bench_config

#: row fields that are timings (or depend on them) and so differ between any two runs
TIMING_FIELDS = ("qps", "_us", "_s", "per_s", "rss", "ratio", "latency_key", "cached", "wall")


def run_cell(ds: Dataset, cfg: dict[str, Any], k: int, runs: int, threads: int, seed: int,
             modes: tuple[str, ...], raw: bool) -> list[dict[str, Any]]:
    """One cell, as the single-process harness runs it; rows only (latencies and the index stay here)."""
    import faiss
    from threadpoolctl import threadpool_limits

    faiss.omp_set_num_threads(threads)
    with threadpool_limits(threads):
        rows, _, _ = bench_config(ds, Config(**cfg), k=k, runs=runs, threads=threads, seed=seed, modes=modes, raw=raw)
    return rows


def run_cells(ds: Dataset, configs: list[Config], k: int = 10, runs: int = 1, threads: int = 1, seed: int = 42,
              modes: tuple[str, ...] = ("single",), raw: bool = False, ray_tasks: bool = True) -> list[dict[str, Any]]:
    """All cells' rows in config order: as Ray tasks (Ray must be initialised), or in this process."""
    cfgs = [asdict(c) for c in configs]
    if not ray_tasks:
        return [row for c in cfgs for row in run_cell(ds, c, k, runs, threads, seed, modes, raw)]
    import ray

    remote = ray.remote(num_cpus=threads)(run_cell)
    ref = ray.put(ds)
    parts = ray.get([remote.remote(ref, c, k, runs, threads, seed, modes, raw) for c in cfgs])
    return [row for part in parts for row in part]


def deterministic(row: dict[str, Any]) -> dict[str, Any]:
    """The row without its timing fields: what must be equal between the two paths."""
    return {k: v for k, v in row.items() if not any(t in k for t in TIMING_FIELDS)}
