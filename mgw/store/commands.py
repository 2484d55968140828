"""`mgw store ...`, `mgw snapshot create|list|restore|prune`, `mgw privacy forget USER` (wiring only)."""
from __future__ import annotations

import argparse
import json
from typing import Any

from mgw.config import load_params


def _print(obj: Any) -> None:
    print(json.dumps(obj, indent=2, default=str))


def _content(args: argparse.Namespace):
    from mgw.store.stores import content_store

    return content_store(load_params(args.params))


def _store_load(args: argparse.Namespace) -> int:
    from mgw.store.loader import load_catalog

    params = load_params(args.params)
    with _content(args) as store:
        res = load_catalog(store, args.catalog, args.embeddings, args.ids, batch=params.store.bench_batch)
        res["snapshot"] = store.snapshot().name  # so the next open loads the index instead of rebuilding it
    _print(res)
    return 0


def _store_check(args: argparse.Namespace) -> int:
    with _content(args) as store:
        res = {**store.check(), "recovery": store.recovery}
    _print(res)
    return 0 if res["consistent"] else 1


def _store_bench(args: argparse.Namespace) -> int:
    from mgw.store.bench import run_storage_benchmark

    res = run_storage_benchmark(load_params(args.params), runs=args.runs, items=args.items, embeddings=args.embeddings)
    _print({"passed": res["passed"], "crash_kills": res["crash"]["kills"], "crash_failures": res["crash"]["failures"],
            "torn_reads": res["concurrency"]["torn_reads"],
            "ratio_transactional_over_raw": res["throughput"]["ratio_transactional_over_raw"]})
    return 0 if all(res["passed"].values()) else 1


def _init_key(args: argparse.Namespace) -> int:
    from pathlib import Path

    from mgw.store.crypto import write_key_file
    from mgw.store.stores import key_path

    path = Path(args.path) if args.path else key_path(load_params(args.params))
    if path is None:
        raise ValueError("no key path: pass one or set store.key_file")
    print(write_key_file(path, overwrite=args.force))
    return 0


def _rotate_key(args: argparse.Namespace) -> int:
    from pathlib import Path

    from mgw.store.crypto import Cipher, load_key, write_key_file
    from mgw.store.stores import Stores, key_path

    params = load_params(args.params)
    stores = Stores.open(params)
    new_key = load_key(args.new_key_file, env="MGW_STORE_NEW_KEY")
    res = stores.users.rotate_key(Cipher(new_key))
    res["querylog_files"] = stores.querylog.rotate_key(Cipher(new_key))
    stores.close()
    if args.install:
        kp = key_path(params)
        write_key_file(kp, new_key, overwrite=True)
        Path(args.new_key_file).unlink(missing_ok=True)
        res["installed"] = str(kp)
    _print(res)
    return 0


def _users(args: argparse.Namespace):
    from mgw.store.stores import Stores

    return Stores.open(load_params(args.params))


def _snap_create(args: argparse.Namespace) -> int:
    with _content(args) as store:
        snap = store.snapshot()
    out = {"created": snap.name, **{k: snap.meta[k] for k in ("count", "watermark", "bytes", "sha256")}}
    if args.users:
        stores = _users(args)
        out["users"] = stores.users.snapshot().name
        stores.close()
    _print(out)
    return 0


def _snap_list(args: argparse.Namespace) -> int:
    from mgw.store.snapshots import SnapshotDir, resolve_inside
    from mgw.store.stores import store_root

    params = load_params(args.params)
    root = store_root(params)
    _print({kind: SnapshotDir(resolve_inside(root / kind, params.store.snapshot_dir), kind).listing()
            for kind in ("content", "users")})
    return 0


def _snap_restore(args: argparse.Namespace) -> int:
    from mgw.store.stores import restore_content

    _print(restore_content(load_params(args.params), args.name))
    return 0


def _snap_prune(args: argparse.Namespace) -> int:
    with _content(args) as store:
        out = {"removed": store.prune()}
    if args.users:
        stores = _users(args)
        out["users_removed"] = stores.users.snapshots.prune(stores.users.max_snapshots, stores.users.max_age_s)
        stores.close()
    _print(out)
    return 0


def _forget(args: argparse.Namespace) -> int:
    from pathlib import Path

    from mgw.store.forget import forget_everywhere, open_context
    from mgw.store.holders import CallbackHolder

    params = load_params(args.params)
    extra = []
    if params.cache.L2.url:  # a shared Redis L2 outlives this process: purge the user's entries there too
        from mgw.cache.tiered import build_cache

        extra.append(CallbackHolder("cache L2 (redis)", build_cache(params.cache, l3=lambda request: None).forget_user))
    ctx = open_context(params, Path(args.root) if args.root else None)
    try:
        run = forget_everywhere(ctx, args.user, extra)
    finally:
        ctx.stores.close()
    _print({**run.receipt, "receipt_file": str(run.path), "remaining": run.details})
    return 0 if run.clean else 1


def _tier(args: argparse.Namespace) -> int:
    from mgw.store.stores import Stores

    params = load_params(args.params)
    stores = Stores.open(params)
    res = {"querylog": stores.querylog.tier(), "metrics": stores.metrics.downsample(),
           "watch_history_expired": stores.users.expire_history(params.store.watch_history_days)}
    stores.close()
    _print(res)
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("store", help="content/user stores: load, check, bench, keys, tiering")
    ss = p.add_subparsers(dest="store_command", metavar="ACTION", required=True)
    a = ss.add_parser("load", help="load catalog.parquet + embeddings.npy into the content store (one transaction per batch)")
    a.add_argument("--catalog", default="data/processed/catalog.parquet")
    a.add_argument("--embeddings", default="data/processed/embeddings.npy")
    a.add_argument("--ids", default="data/processed/embedding_ids.json")
    a.set_defaults(func=_store_load)
    a = ss.add_parser("check", help="integrity + index/rows consistency; shows what recovery did")
    a.set_defaults(func=_store_check)
    a = ss.add_parser("bench", help="crash (SIGKILL) + concurrency tests, throughput vs raw index → reports/metrics/storage.json")
    a.add_argument("--runs", type=int, default=None, help="SIGKILLs (default store.crash_runs)")
    a.add_argument("--items", type=int, default=None, help="rows for the throughput test (default store.bench_items)")
    a.add_argument("--embeddings", default=None, help="embeddings.npy to insert (default data/processed/embeddings.npy)")
    a.set_defaults(func=_store_bench)
    a = ss.add_parser("init-key", help="write a new random AES-256 key file (mode 0600)")
    a.add_argument("path", nargs="?", default=None)
    a.add_argument("--force", action="store_true")
    a.set_defaults(func=_init_key)
    a = ss.add_parser("rotate-key", help="re-encrypt user data and logs under a new key")
    a.add_argument("new_key_file")
    a.add_argument("--install", action="store_true", help="then replace store.key_file with the new key")
    a.set_defaults(func=_rotate_key)
    a = ss.add_parser("tier", help="lifecycle job: query-log tiers + retention, metrics downsampling, history expiry")
    a.set_defaults(func=_tier)

    p = sub.add_parser("snapshot", help="content snapshots: create | list | restore | prune")
    ss = p.add_subparsers(dest="snapshot_command", metavar="ACTION", required=True)
    a = ss.add_parser("create", help="write a snapshot now (then apply retention)")
    a.add_argument("--users", action="store_true", help="also snapshot the (encrypted) user store")
    a.set_defaults(func=_snap_create)
    ss.add_parser("list", help="list snapshots with validity").set_defaults(func=_snap_list)
    a = ss.add_parser("restore", help="make the store equal to a snapshot (newest valid by default)")
    a.add_argument("name", nargs="?", default=None)
    a.set_defaults(func=_snap_restore)
    a = ss.add_parser("prune", help="apply retention (maxSnapshots, maxAgeHours)")
    a.add_argument("--users", action="store_true", help="also prune user snapshots")
    a.set_defaults(func=_snap_prune)

    p = sub.add_parser("privacy", help="right to be forgotten")
    ss = p.add_subparsers(dest="privacy_command", metavar="ACTION", required=True)
    a = ss.add_parser("forget", help="remove a user from every store, snapshot, log, cache, model version and per-user "
                                     "report; verifies by exact id and writes a deletion receipt")
    a.add_argument("user")
    a.add_argument("--root", default=None,
                   help="folder whose data/, models/ and reports/ are cleaned and scanned (default: the repo)")
    a.set_defaults(func=_forget)
