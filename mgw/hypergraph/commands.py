"""`mgw hypergraph build|query|bench`, `mgw parse`, `mgw search`: argument wiring only."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from mgw.config import ROOT, load_params


def _catalog_path(args: argparse.Namespace) -> Path:
    return Path(args.catalog) if args.catalog else ROOT / "data" / "processed" / "catalog.parquet"


def _load_catalog(args):
    import pandas as pd

    path = _catalog_path(args)
    if not path.exists():
        raise FileNotFoundError(f"catalog not found: {path} (run `mgw ingest && mgw resolve`, or pass --catalog)")
    return pd.read_parquet(path)


BENCH = "bench"  # `mgw search bench`: the benchmark, in the subcommand style of every other benchmark


def _build(args: argparse.Namespace) -> int:
    from mgw.hypergraph.bench import build_store
    from mgw.reporting import write_json_atomic

    p = load_params(args.params)
    store = build_store(_load_catalog(args), p.hypergraph.regions, p.hypergraph.home_bonus, p.seed,
                        p.hypergraph.availability)
    out = Path(args.out)
    edges = list(store.hyperedges(genres=False))
    write_json_atomic(out, {"titles": store.n, "regions": store.regions, "hyperedges": edges,
                            "compression": store.compression()})
    print(f"{out}: {store.n} titles, {len(edges)} availability hyperedges")
    return 0


def _query(args: argparse.Namespace) -> int:
    from mgw.hypergraph.bench import build_store
    from mgw.hypergraph.expr import compile_query
    from mgw.query import parse

    p = load_params(args.params)
    cat = _load_catalog(args)
    store = build_store(cat, p.hypergraph.regions, p.hypergraph.home_bonus, p.seed, p.hypergraph.availability)
    parsed = parse(args.query)
    expr = compile_query(parsed)
    ids = store.query(expr)
    titles = cat.set_index("entity_id").loc[list(ids[: args.limit]), "title"]
    print(json.dumps({"filters": parsed, "expression": expr, "count": int(len(ids)),
                      "titles": [{"id": i, "title": t} for i, t in titles.items()]}, indent=2))
    return 0


def _bench(args: argparse.Namespace) -> int:
    from mgw.hypergraph.bench import run_benchmark
    from mgw.reporting import write_metrics

    p = load_params(args.params)
    cat = _load_catalog(args)
    result = run_benchmark(cat, p, p.seed, synth_titles=args.synth_titles, with_reference=not args.no_reference)
    out = write_metrics(args.name, result, seed=p.seed, threads=1)
    real = result.get("real", {}).get("latency", {})
    sim = result.get("simulated", {}).get("latency", {})
    print(f"{out}: real p95 {real.get('store', {}).get('p95_ms')} ms (xgi {real.get('xgi', {}).get('p95_ms')}), "
          f"simulated p95 {sim.get('store', {}).get('p95_ms')} ms (xgi {sim.get('xgi', {}).get('p95_ms')})")
    return 0


def _parse(args: argparse.Namespace) -> int:
    from mgw.query import parse

    if args.eval:
        from mgw.query import evaluate_labelled
        from mgw.reporting import write_metrics

        p = load_params(args.params)
        result = evaluate_labelled(args.eval)
        out = write_metrics("parse", result, seed=p.seed)
        print(f"{out}: filters exact-match {result['filters_exact_match']:.3f} on {result['queries']} queries")
        return 0
    print(json.dumps(parse(args.query), indent=2))
    return 0


def _search(args: argparse.Namespace) -> int:
    from mgw.search import build_pipeline, public_response

    p = load_params(args.params)
    bench = args.bench or (args.query == BENCH and args.text is None)
    query = args.text if args.text is not None else args.query
    pipe = build_pipeline(p, Path(args.processed) if args.processed else None)
    if bench:
        from mgw.reporting import write_metrics
        from mgw.search import bench_search

        result = bench_search(pipe, p)
        out = write_metrics(args.name, result, seed=p.seed, threads=p.embed.threads)
        h, qps = result["headline"], result["throughput_qps"]
        print(f"{out}: p50 {h['p50_ms']:.2f} ms, p99 {h['p99_ms']:.2f} ms, all but embedding p50 "
              f"{h['p50_ms_excluding_embedding']:.3f} ms, query embedding p50 {h['embed_query_p50_ms']:.2f} ms "
              f"({result['reranker']}); QPS " + ", ".join(f"{k} {v:.0f}" for k, v in qps.items()))
        return 0
    if not query:
        raise ValueError("give a QUERY (or `mgw search bench` for the benchmark)")
    if p.cache.L2.url:  # a shared L2 (Redis) makes answers reusable across `mgw search` calls
        from mgw.search import CachedSearch

        pipe = CachedSearch(pipe, p.cache)
    resp = pipe.search(query, user=args.user, k=args.k, offset=args.offset, explain=args.explain)
    print(json.dumps(public_response(resp), indent=2, default=str))
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    hg = sub.add_parser("hypergraph", help="availability hypergraph: build, query, benchmark")
    hsub = hg.add_subparsers(dest="hypergraph_command", metavar="ACTION")
    b = hsub.add_parser("build", help="write the availability hyperedges (seed §1.1.3 shape) to JSON")
    b.add_argument("--catalog", default=None)
    b.add_argument("--out", default="data/processed/hypergraph.json")
    b.set_defaults(func=_build)
    q = hsub.add_parser("query", help="answer a natural-language filter query from the store")
    q.add_argument("query")
    q.add_argument("--catalog", default=None)
    q.add_argument("--limit", type=int, default=10)
    q.set_defaults(func=_query)
    be = hsub.add_parser("bench", help="query latency vs XGI, compression → reports/metrics/<name>.json")
    be.add_argument("--catalog", default=None)
    be.add_argument("--synth-titles", type=int, default=None, help="simulated catalog size (default: params)")
    be.add_argument("--no-reference", action="store_true", help="skip XGI (no side-by-side, no agreement check)")
    be.add_argument("--name", default="hypergraph")
    be.set_defaults(func=_bench)

    pa = sub.add_parser("parse", help="parse a natural-language query into filters (JSON)")
    pa.add_argument("query", nargs="?", default="")
    pa.add_argument("--eval", default=None, metavar="JSONL",
                    help="score the labelled set and write reports/metrics/parse.json")
    pa.set_defaults(func=_parse)

    s = sub.add_parser("search", help="parse → embed → filtered ANN → rerank → top-k (seed §3.1.2); "
                                      "`mgw search bench` benchmarks it",
                       description="`mgw search QUERY` answers one query; `mgw search bench` is the benchmark, the "
                                   "same subcommand style as `mgw cache bench`, `mgw serve bench`, `mgw store bench` "
                                   "(to search for the word itself: `mgw search --text bench`).")
    s.add_argument("query", nargs="?", default="", help="the query, or `bench`")
    s.add_argument("--text", default=None, help="the query as an option (any text, `bench` included)")
    s.add_argument("--user", default=None)
    s.add_argument("--k", type=int, default=10)
    s.add_argument("--offset", type=int, default=0)
    s.add_argument("--explain", action="store_true", help="per-stage latency breakdown")
    s.add_argument("--processed", default=None, help="folder with catalog.parquet, embeddings.npy, embedding_ids.json")
    s.add_argument("--bench", action="store_true", help=argparse.SUPPRESS)  # the old spelling of `mgw search bench`
    s.add_argument("--name", default="search", help="metrics file name for `bench`: per-stage latency and "
                                                    "throughput → reports/metrics/<name>.json (e.g. search-real)")
    s.set_defaults(func=_search)
