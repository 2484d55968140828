"""`mgw bench`: ANN benchmark over datasets × backends (wiring only; logic in mgw.bench.runner)."""
from __future__ import annotations

import argparse
import json

from mgw.argstyle import add_list_option
from mgw.config import load_params


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("bench", help="ANN benchmark: recall/QPS/latency/memory per backend → reports/metrics/bench.json")
    add_list_option(p, "--datasets", help="catalog-minilm-384, synth-<N>[k|m] (default: params bench.datasets)")
    add_list_option(p, "--backends", help="hnswlib faiss annoy exact (default: params bench.backends)")
    p.add_argument("--embeddings", help="catalog embeddings .npy (default: params bench.embeddings)")
    p.add_argument("--queries", type=int, help="held-out / generated queries per dataset")
    p.add_argument("--runs", type=int, help="timed runs per point (best is kept)")
    p.add_argument("--threads", type=int, help="thread budget for batch / clients modes and builds")
    p.add_argument("--grid", choices=["tiny", "small", "full"], help="build-param grid size")
    p.add_argument("--out-dir", default="reports", help="writes OUT/metrics/bench.json, OUT/bench/*, OUT/figures/*")
    p.add_argument("--bench-dir", default=None, help="HDF5 dataset cache (default data/interim/bench)")
    p.add_argument("--cache-dir", default=None, help="reuse saved index builds from this folder")
    p.add_argument("--name", default="bench", help="metrics file name (OUT/metrics/NAME.json)")
    p.set_defaults(func=_bench)


def _bench(args: argparse.Namespace) -> int:
    from mgw.bench.runner import run_benchmark

    params = load_params(args.params)
    b = params.bench
    summary = run_benchmark(
        datasets=args.datasets or b.datasets, backends=args.backends or b.backends,
        embeddings=args.embeddings or b.embeddings, queries=args.queries or b.queries, runs=args.runs or b.runs,
        threads=args.threads or b.threads, k=b.k, seed=params.seed, grid=args.grid or b.grid, out_dir=args.out_dir,
        bench_dir=args.bench_dir, cache_dir=args.cache_dir, filtered_queries=b.filtered_queries, metrics_name=args.name)
    print(json.dumps({"metrics": summary["path"], "claims": summary["claims"],
                      "skipped": summary["skipped_datasets"]}, indent=1, default=str))
    return 0
