"""`mgw ray check|embed`: argument wiring only (mgw/distributed does the work)."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from mgw.config import ROOT, load_params


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("ray", help="scale-out on Ray: embed on Ray Data, check identity + overhead vs one process")
    rs = p.add_subparsers(dest="ray_command", metavar="ACTION")
    c = rs.add_parser("check", help="both Ray paths against the single-process path: identical? overhead ratio")
    c.add_argument("--address", help="Ray cluster (default: ray.address; unset = a local instance)")
    c.add_argument("--out", default="reports/metrics/ray.json")
    c.set_defaults(func=_check)
    e = rs.add_parser("embed", help="embed the catalog as a Ray Data job (same outputs as `mgw embed`)")
    e.add_argument("--address", help="Ray cluster (default: ray.address; unset = a local instance)")
    e.add_argument("--processed", default=str(ROOT / "data" / "processed"))
    e.set_defaults(func=_embed)


def _params(args):
    params = load_params(args.params)
    if args.address:
        params = params.model_copy(update={"ray": params.ray.model_copy(update={"address": args.address})})
    return params


def _check(args: argparse.Namespace) -> int:
    from mgw.distributed.overhead import measure_overhead
    from mgw.reporting import write_json_atomic

    result = measure_overhead(_params(args))
    write_json_atomic(Path(args.out), result)
    print(json.dumps({"ratio": result["ratio"], "embed_identical": result["embed"]["identical"],
                      "bench_identical": result["bench"]["identical"]}))
    return 0 if result["embed"]["identical"] and result["bench"]["identical"] else 1


def _embed(args: argparse.Namespace) -> int:
    import numpy as np
    import pandas as pd

    from mgw.distributed import embed, session
    from mgw.embed import entity_text

    params = _params(args)
    processed = Path(args.processed)
    catalog = pd.read_parquet(processed / "catalog.parquet")
    texts = [entity_text(t, d, g) for t, d, g in zip(catalog["title"], catalog["description"], catalog["genres"])]
    with session.session(params.ray):
        vectors = embed.embed_texts(texts, params.embed, params.ray.embed_actors, params.ray.embed_batch_size)
    np.save(processed / "embeddings.npy", vectors)
    (processed / "embedding_ids.json").write_text(json.dumps(catalog["entity_id"].tolist()))
    print(f"{processed / 'embeddings.npy'}: {len(vectors)} vectors embedded on Ray")
    return 0
