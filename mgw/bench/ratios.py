"""mgw/raw ratios alone: every configuration of a grid at its default query point, as `mgw bench` measures them
(`bench_config` → `raw_ratio_row`), without the recall/QPS sweep — minutes instead of the whole benchmark:

    python -m mgw.bench.ratios catalog-minilm-384 --out reports/bench/ratios-catalog.json
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
from pathlib import Path
from typing import Any

from mgw.argstyle import add_list_option


def main(argv: list[str] | None = None) -> dict[str, Any]:
    import faiss
    from threadpoolctl import threadpool_limits

    from mgw.bench.datasets import load_dataset
    from mgw.bench.runner import bench_config, default_configs, summarize
    from mgw.provenance import stamp

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dataset")
    ap.add_argument("--embeddings", default="data/processed/embeddings.npy")
    add_list_option(ap, "--backends", help="hnswlib faiss annoy exact (default: all four)")
    ap.add_argument("--grid", default="small")
    ap.add_argument("--queries", type=int, default=1000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--bench-dir", default="data/interim/bench")
    ap.add_argument("--out", default=None)
    a = ap.parse_args(argv)
    ds = load_dataset(a.dataset, embeddings=a.embeddings, queries=a.queries, seed=a.seed, bench_dir=a.bench_dir)
    faiss.omp_set_num_threads(a.threads)
    rows = []
    with threadpool_limits(a.threads):
        for cfg in default_configs(a.backends or ["hnswlib", "faiss", "annoy", "exact"], len(ds.train), a.grid):
            cfg = dataclasses.replace(cfg, query_grid=[cfg.default_query])
            rows += bench_config(ds, cfg, runs=a.runs, threads=a.threads, seed=a.seed,
                                 cache_dir=Path(a.bench_dir) / "indexes", modes=("batch",))[0]
            r = rows[-1]
            print(f"{cfg.label}: single {r['ratio_qps_single']:.3f} (median round "
                  f"{r['ratio_qps_single_median_round']:.3f}), batch 1t {r['ratio_qps_batch_1t']:.3f}, "
                  f"{a.threads}t {r['ratio_qps_batch']:.3f}; p50 µs {r['paired_p50_us']:.1f} / {r['raw_p50_us']:.1f}; "
                  f"load {os.getloadavg()[0]:.1f}", flush=True)
    s = summarize(rows, [], {a.dataset: {}})
    out = {"headline": s["headline"], "raw_ratios": s["raw_ratios"], "load_average": list(os.getloadavg()),
           "_provenance": stamp(a.seed, a.threads)}
    if a.out:
        Path(a.out).parent.mkdir(parents=True, exist_ok=True)
        Path(a.out).write_text(json.dumps(out, indent=2, default=float))
    print(json.dumps(out["headline"]))
    return out


if __name__ == "__main__":
    main()
