"""`mgw train` and `mgw models list|show|promote|rollback` (wiring only)."""
from __future__ import annotations

import json


def register(sub) -> None:
    p = sub.add_parser("train", help="train + evaluate the GAT reranker and baselines, register the model")
    p.add_argument("--no-transfer", action="store_true", help="skip the held-out-genre transfer run")
    p.add_argument("-q", "--quiet", "--no-progress", dest="no_progress", action="store_true", help="no progress bars")
    p.set_defaults(func=_train)

    m = sub.add_parser("models", help="reranker registry: list, show, promote, rollback")
    msub = m.add_subparsers(dest="models_command", metavar="ACTION", required=True)
    msub.add_parser("list", help="all versions with aliases and NDCG@10").set_defaults(func=_list)
    s = msub.add_parser("show", help="config, metrics and lineage of a version or alias")
    s.add_argument("ref")
    s.set_defaults(func=_show)
    pr = msub.add_parser("promote", help="point an alias (default production) at a version")
    pr.add_argument("version")
    pr.add_argument("--alias", default="production", choices=["production", "candidate"])
    pr.set_defaults(func=_promote)
    rb = msub.add_parser("rollback", help="point an alias back at its previous version")
    rb.add_argument("--alias", default="production", choices=["production", "candidate"])
    rb.set_defaults(func=_rollback)


def _registry(args):
    from mgw.config import load_params
    from mgw.rerank.evaluate import _path
    from mgw.rerank.registry import Registry

    return Registry(_path(load_params(args.params).gnn.registry_dir))


def _train(args) -> int:
    from mgw.config import load_params
    from mgw.rerank.evaluate import run

    params = load_params(args.params)
    res = run(params, transfer=not args.no_transfer, progress=not args.no_progress,
              pipeline=_search_pipeline(params) if params.gnn.search_task else None)
    for task, t in res["tasks"].items():
        print(f"[{task}] {t['users']} test users; candidate recall {t['candidate_recall']}")
        print(f"{'ranker':<12} " + " ".join(f"{m:>11}" for m in ("ndcg@10", "recall@10", "mrr@10", "hitrate@10")))
        for name, r in t["rankers"].items():
            print(f"{name:<12} " + " ".join(f"{r[m]['mean']:>11.4f}" for m in ("ndcg@10", "recall@10", "mrr@10",
                                                                              "hitrate@10")))
    print(res["verdict"])
    print(f"rerank p50 {res['headline']['rerank_p50_ms']:.3f} ms (known user), "
          f"{res['headline']['rerank_unknown_user_p50_ms']:.3f} ms (query vector), 1 thread")
    print(f"registered reranker {res['model']['version']}; aliases {res['model']['aliases']}")
    return 0


def _search_pipeline(params):
    """The real search pipeline over the catalog the reranker uses (utility reranker: the task swaps it)."""
    from mgw.errors import MgwError
    from mgw.search.build import build_pipeline
    from mgw.search.rerankers import UTILITY

    try:
        return build_pipeline(params.model_copy(update={"search": params.search.model_copy(
            update={"reranker": UTILITY})}), processed=_catalog_dir(params))
    except (FileNotFoundError, MgwError, KeyError) as e:
        print(f"personalised-search task skipped: {e}")
        return None


def _catalog_dir(params):
    from mgw.rerank.evaluate import _path

    return _path(params.gnn.catalog_dir)


def _list(args) -> int:
    rows = _registry(args).list()
    if not rows:
        print("no reranker versions (run: mgw train)")
        return 0
    for r in rows:
        nd = f"{r['ndcg@10']:.4f}" if r["ndcg@10"] is not None else "-"
        print(f"{r['version']:<10} {r['aliases'] or '-':<22} ndcg@10={nd:<8} {r['interactions'] or '':<10} "
              f"parent={r['parent'] or '-'} {r['created']}")
    return 0


def _show(args) -> int:
    print(json.dumps(_registry(args).show(args.ref), indent=2))
    return 0


def _promote(args) -> int:
    v = _registry(args).promote(args.version, args.alias)
    print(f"{args.alias} → {v}")
    return 0


def _rollback(args) -> int:
    v = _registry(args).rollback(args.alias)
    print(f"{args.alias} rolled back → {v}")
    return 0
