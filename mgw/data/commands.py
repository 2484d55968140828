"""`mgw ingest | resolve | embed` — the foundation stages (see mgw/data/stages.py). The stages (and pandas) are
imported inside each command, so building the CLI parser for any other command does not load them."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from mgw.config import load_params


def _params(args: argparse.Namespace):
    overrides = {"data": {"source": args.source}} if getattr(args, "source", None) else None
    return load_params(args.params, overrides=overrides)


def _ingest(args: argparse.Namespace) -> int:
    from mgw.data import stages
    m = stages.run_ingest(_params(args), Path(args.interim), Path(args.metrics), show_progress=not args.quiet)
    print(json.dumps({k: m[k] for k in ("source", "rows", "items", "rejected", "accounted")}))
    return 0


def _resolve(args: argparse.Namespace) -> int:
    overrides = {"resolve": {"engine": args.engine}} if args.engine else {}
    params = load_params(args.params, overrides={**({"data": {"source": args.source}} if args.source else {}),
                                                 **overrides})
    from mgw.data import stages
    m = stages.run_resolve(params, Path(args.interim), Path(args.processed), Path(args.metrics))
    print(json.dumps({k: m[k] for k in ("listings", "entities", "candidate_pairs", "merges")} | m["headline"]))
    return 0


def _resolve_sample(args: argparse.Namespace) -> int:
    """Draw candidate pairs for hand labelling (the gold set's sampler, mgw.data.resolve.sampling)."""
    from mgw.data import stages
    from mgw.data.resolve import sampling

    items = stages.load_items(Path(args.interim))
    pool = sampling.candidate_pool(items)
    sheet = sampling.to_label_sheet(items, sampling.stratified_sample(pool, args.per_class, args.seed))
    sheet.to_csv(args.out, index=False)
    print(json.dumps({"pool": int(len(pool)), "sampled": int(len(sheet)), "out": args.out,
                      "by_class": sheet["class"].value_counts().to_dict()}))
    return 0


def _embed(args: argparse.Namespace) -> int:
    from mgw.data import stages
    m = stages.run_embed(_params(args), Path(args.processed), Path(args.metrics), show_progress=not args.quiet)
    print(json.dumps({k: m.get(k) for k in ("runtime", "count", "embedded", "cached", "texts_per_s", "stage_wall_s",
                                            "headline")}))
    return 0


def _common(p: argparse.ArgumentParser, interim: bool = True, processed: bool = True) -> None:
    p.add_argument("--source", choices=["simulated", "real"], help="override data.source")
    if interim:
        p.add_argument("--interim", default="data/interim", help="interim data folder")
    if processed:
        p.add_argument("--processed", default="data/processed", help="processed data folder")
    p.add_argument("--metrics", default="reports/metrics", help="metrics folder")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bars")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("ingest", help="read catalogs (simulated, real CSVs or live feeds), normalize, quarantine bad rows")
    _common(p, processed=False)
    p.set_defaults(func=_ingest)
    p = sub.add_parser("resolve", help="merge the same title across platforms into canonical entities; P/R/F1")
    _common(p)
    p.add_argument("--engine", choices=["mgw", "splink"], help="override resolve.engine")
    p.set_defaults(func=_resolve)
    p = sub.add_parser("resolve-sample", help="draw stratified candidate pairs to label by hand (gold-set sampler)")
    p.add_argument("--interim", default="data/interim", help="folder with items.parquet (run mgw ingest first)")
    p.add_argument("--per-class", type=int, default=100, help="pairs per failure class")
    p.add_argument("--seed", type=int, default=16)
    p.add_argument("--out", required=True, help="CSV to write (columns of tests/data/resolve_pairs.csv)")
    p.set_defaults(func=_resolve_sample)
    p = sub.add_parser("embed", help="embed entities with all-MiniLM-L6-v2 (offline, cached by content hash)")
    _common(p, interim=False)
    p.set_defaults(func=_embed)
