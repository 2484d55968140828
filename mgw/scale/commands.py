"""`mgw scale`: argument wiring only (mgw/scale/run.py does the work)."""
from __future__ import annotations

import argparse

from mgw.argstyle import add_list_option
from mgw.config import load_params


def _size(text: str) -> int:
    """'10k' → 10000, '1m' → 1000000, '5000' → 5000."""
    t = text.strip().lower()
    mult = {"k": 1000, "m": 1_000_000}.get(t[-1:], 1)
    try:
        return int(float(t[:-1] if mult > 1 else t) * mult)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a size: {text!r} (e.g. 10k, 300k, 1m)") from None


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("scale", help="scaling curves: each stage at 10K…300K (1M) titles → reports/metrics/scale.json")
    p.add_argument("--grid", choices=["first-look", "full"],
                   help="scale.grid preset: first-look (≤ 10K, 2 backends, no Ray) or full (≤ 300K, 4 backends, Ray)")
    add_list_option(p, "--sizes", item=_size, help="catalog sizes, e.g. 10k 30k 100k (default: scale.sizes)")
    p.add_argument("--max-n", type=_size, help="skip sizes above this (default scale.max_n; 1m for the 1M run)")
    add_list_option(p, "--stages", help="ingest resolve embed index hypergraph gat cache (default: all)")
    add_list_option(p, "--backends", help="hnswlib faiss-hnsw-flat faiss-hnsw-sq8 faiss-ivf-pq annoy")
    p.add_argument("--no-ray", action="store_true", help="skip the Ray overhead measurement")
    p.add_argument("--resume", action="store_true",
                   help="reuse the cells an earlier (interrupted) run measured with the same settings")
    p.add_argument("--out-dir", default="reports", help="writes OUT/metrics/scale.json and OUT/scale/*.csv")
    p.add_argument("--work-dir", help="generator, rows.jsonl and temporary files (default data/interim/scale)")
    p.add_argument("-q", "--quiet", "--no-progress", dest="progress", action="store_false", help="no progress bars")
    p.set_defaults(func=_scale)


def _scale(args: argparse.Namespace) -> int:
    from mgw.scale.run import run_scale

    params = load_params(args.params, overrides={"scale": {"grid": args.grid}} if args.grid else None)
    out = run_scale(params, args.out_dir, sizes=args.sizes, max_n=args.max_n, stages=args.stages,
                    backends=args.backends, ray=False if args.no_ray else None, progress=args.progress,
                    resume=args.resume, work_dir=args.work_dir)
    h = out["headline"]
    print(f"{out['path']}: sizes up to {h['largest_n_measured']:,}")
    for stage, e in h["exponents"].items():
        ci = e["ci95"]
        print(f"  {stage:32s} exponent {e['exponent']:.2f}" + (f" [{ci[0]:.2f}, {ci[1]:.2f}]" if ci else ""))
    for b, n in h["max_titles_one_machine"].items():
        print(f"  one machine ends at ({b}): {n if n is None else f'{n:,}'} titles ({h['binding_constraint'][b]})")
    if h["ray_overhead_ratio"]:
        print(f"  Ray / single-process wall time: {h['ray_overhead_ratio']}")
    return 0
