"""Ray against the single-process path on this machine, run interleaved (single, Ray, single, Ray, …) so both
see the same load: for the embedding job and for the benchmark cells, the median wall-time ratio Ray / single
(> 1: Ray costs more than it gives here) and whether the results are identical (vectors within float
tolerance, benchmark rows equal except timings). Ray's own start-up is reported apart, once per session."""
from __future__ import annotations

import os
import time
from typing import Any

import numpy as np

from mgw.config import Params
from mgw.distributed import bench as rbench
from mgw.distributed import embed as rembed
from mgw.distributed import session

ATOL = 1e-5


def catalog_texts(params: Params, n: int) -> list[str]:
    """n entity texts of the simulated source (the embed stage's text), seeded."""
    from mgw.data import ingest as ing
    from mgw.embed import entity_text
    from mgw.scale.synth import catalog_params

    items = ing.ingest(catalog_params(params, max(n, 200)), show_progress=False).items_frame().head(n)
    return [entity_text(t, d or "", g) for t, d, g in zip(items["title"], items["description"], items["genres"])]


def single_embed(texts: list[str], embed_params: Any) -> np.ndarray:
    """The single-process job: a fresh Embedder (model load included, as each Ray job loads its actors)."""
    from mgw.embed import Embedder

    return Embedder.from_params(embed_params, disk_cache=False).encode(texts)


def compare_embedding(params: Params, texts: list[str], repeats: int) -> dict[str, Any]:
    rp = params.ray
    t_single, t_ray, a, b = [], [], None, None
    for _ in range(repeats):
        t0 = time.perf_counter()
        a = single_embed(texts, params.embed)
        t_single.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        b = rembed.embed_texts(texts, params.embed, rp.embed_actors, rp.embed_batch_size)
        t_ray.append(time.perf_counter() - t0)
    diff = float(np.abs(a - b).max())
    return {"texts": len(texts), "single_s": t_single, "ray_s": t_ray,
            "ratio": float(np.median(t_ray) / np.median(t_single)), "max_abs_diff": diff,
            "identical": bool(diff <= ATOL), "actors": rp.embed_actors, "batch_size": rp.embed_batch_size}


def compare_bench(params: Params, repeats: int) -> dict[str, Any]:
    from mgw.bench.datasets import load_dataset, parse_synth_size
    from mgw.bench.runner import default_configs

    rp, bp = params.ray, params.bench
    n_q = min(200, max(10, (parse_synth_size(rp.bench_dataset) or 5000) // 20))
    ds = load_dataset(rp.bench_dataset, embeddings=bp.embeddings, queries=n_q, seed=params.seed)
    configs = default_configs(["hnswlib", "faiss", "annoy", "exact"], len(ds.train), "tiny")
    t_single, t_ray, rows_a, rows_b = [], [], [], []
    for _ in range(repeats):
        t0 = time.perf_counter()
        rows_a = rbench.run_cells(ds, configs, k=bp.k, seed=params.seed, ray_tasks=False)
        t_single.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        rows_b = rbench.run_cells(ds, configs, k=bp.k, seed=params.seed, ray_tasks=True)
        t_ray.append(time.perf_counter() - t0)
    same = [rbench.deterministic(r) for r in rows_a] == [rbench.deterministic(r) for r in rows_b]
    return {"dataset": rp.bench_dataset, "cells": len(configs), "rows": len(rows_a), "single_s": t_single,
            "ray_s": t_ray, "ratio": float(np.median(t_ray) / np.median(t_single)), "identical": bool(same),
            "build_threads": 1}


def measure_overhead(params: Params, progress: bool = False) -> dict[str, Any]:
    """Both comparisons in one Ray session; `ratio` = {embed, bench} medians of Ray / single wall time."""
    rp = params.ray
    texts = catalog_texts(params, rp.overhead_texts)
    with session.session(rp) as info:
        emb = compare_embedding(params, texts, rp.overhead_repeats)
        ben = compare_bench(params, rp.overhead_repeats)
    return {"ratio": {"embed": emb["ratio"], "bench": ben["ratio"]}, "embed": emb, "bench": ben,
            "session_start_s": info["seconds"], "address": rp.address or "local",
            "resources": {k: v for k, v in info["resources"].items() if k in ("CPU", "memory")},
            "load_average_1m": os.getloadavg()[0]}
