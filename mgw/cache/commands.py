"""`mgw cache simulate` (hit-ratio curves) and `mgw cache bench` (latency): wiring only."""
from __future__ import annotations

import argparse
import logging
from pathlib import Path

log = logging.getLogger(__name__)


def _simulate(args: argparse.Namespace) -> int:
    from mgw.cache import results, simulator
    from mgw.config import data_dir, load_params

    params = load_params(args.params)
    if args.requests:
        params.cache.sim_requests = args.requests
    ratings = data_dir(params) / "movielens" / "ml-latest-small" / "ratings.csv"
    if not ratings.exists():
        log.warning("MovieLens ratings not found at %s: Zipf workloads only", ratings)
    res = simulator.run(params, ratings, Path(args.out_dir))
    path = results.write_cache_metrics(params.seed, parts_dir=args.out_dir)
    print(f"{path}  target holds for: {', '.join(res['target_holds']) or 'no workload'}")
    return 0


def _bench(args: argparse.Namespace) -> int:
    from mgw.cache import bench, results
    from mgw.config import load_params

    params = load_params(args.params)
    res = bench.run_from_params(params, Path(args.catalog_dir), n_queries=args.queries, redis_url=args.redis_url,
                                out_dir=Path(args.out_dir))
    path = results.write_cache_metrics(params.seed, threads=params.embed.threads, parts_dir=args.out_dir)
    print(path)
    for name, v in res["verdict"].items():
        print(f"  {name:18s} p95 {v['p95_ms']:.3f} ms  meets seed target: {v['meets_target']}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("cache", help="multi-level cache: hit-ratio simulation and latency benchmark")
    cs = p.add_subparsers(dest="cache_command", metavar="CACHE_COMMAND", required=True)
    s = cs.add_parser("simulate", help="replay Zipf and MovieLens workloads; hit-ratio curves vs Belady/LRU/LFU")
    s.add_argument("--requests", type=int, default=None, help="requests per workload (default cache.sim_requests)")
    s.add_argument("--out-dir", default="reports/cache")
    s.set_defaults(func=_simulate)
    b = cs.add_parser("bench", help="latency of L1 hit, L2 hit (in process, Redis) and miss")
    b.add_argument("--catalog-dir", default="data/processed",
                   help="folder with catalog.parquet, embeddings.npy, embedding_ids.json")
    b.add_argument("--queries", type=int, default=None, help="default cache.bench_queries")
    b.add_argument("--redis-url", default=None,
                   help="Redis for the L2 row (default cache.L2.url, else a throw-away local redis-server)")
    b.add_argument("--out-dir", default="reports/cache")
    b.set_defaults(func=_bench)
