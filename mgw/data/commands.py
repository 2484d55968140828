"""`mgw ingest | resolve | embed` — the foundation stages (see mgw/data/stages.py)."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from mgw.config import load_params
from mgw.data import stages


def _params(args: argparse.Namespace):
    overrides = {"data": {"source": args.source}} if getattr(args, "source", None) else None
    return load_params(args.params, overrides=overrides)


def _ingest(args: argparse.Namespace) -> int:
    m = stages.run_ingest(_params(args), Path(args.interim), Path(args.metrics), show_progress=not args.quiet)
    print(json.dumps({k: m[k] for k in ("source", "rows", "items", "rejected", "accounted")}))
    return 0


def _resolve(args: argparse.Namespace) -> int:
    m = stages.run_resolve(_params(args), Path(args.interim), Path(args.processed), Path(args.metrics))
    print(json.dumps({k: m[k] for k in ("listings", "entities", "exact_merges", "fuzzy_merges")}
                     | {"evaluation": {k: m["evaluation"].get(k) for k in ("precision", "recall", "f1")}}))
    return 0


def _embed(args: argparse.Namespace) -> int:
    m = stages.run_embed(_params(args), Path(args.processed), Path(args.metrics), show_progress=not args.quiet)
    print(json.dumps({k: m.get(k) for k in ("count", "embedded", "cached", "texts_per_s")}))
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
    p.set_defaults(func=_resolve)
    p = sub.add_parser("embed", help="embed entities with all-MiniLM-L6-v2 (offline, cached by content hash)")
    _common(p, interim=False)
    p.set_defaults(func=_embed)
