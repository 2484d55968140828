"""`mgw serve` (run the server), `mgw serve token` (issue a JWT), `mgw serve bench` (the serve_bench stage).
Registering also adds the sessions' holder to `mgw privacy forget` (the store layer cannot import serving)."""
from __future__ import annotations

import argparse
import json
import sys


def _params(args: argparse.Namespace):
    from mgw.config import load_params

    overrides = {}
    if getattr(args, "demo", None):
        overrides["demo_titles"] = args.demo
    for key in ("host", "port", "workers", "redis_url", "sql_url"):
        if getattr(args, key, None) is not None:
            overrides[key] = getattr(args, key)
    return load_params(args.params, overrides={"serve": overrides} if overrides else None)


def _serve(args: argparse.Namespace) -> int:
    if getattr(args, "serve_command", None):
        return args.serve_func(args)
    from mgw.serve.run import run_server

    return run_server(_params(args), print_token_for=args.token_user)


def _token(args: argparse.Namespace) -> int:
    import os

    from mgw.serve.auth import TokenAuth

    params = _params(args)
    secret = os.environ.get(params.serve.jwt_secret_env)
    if not secret:
        print(f"mgw serve token: ${params.serve.jwt_secret_env} is not set; a server without it accepts only the "
              f"token it prints at start", file=sys.stderr)
        return 2
    print(TokenAuth(secret, params.serve.jwt_ttl_s).issue(args.user))
    return 0


def _bench(args: argparse.Namespace) -> int:
    from mgw.serve.bench import run_bench, run_overhead_only

    if args.overhead_only:
        res = run_overhead_only(_params(args), pairs=args.pairs, pin=args.pin)
        print(json.dumps({k: v for k, v in res.items() if not isinstance(v, dict)}, indent=2))
        return 0
    out = run_bench(_params(args), full=args.full)
    print(json.dumps(out["headline"], indent=2))
    return 0


def _register_holder() -> None:
    from mgw.store.forget import HOLDERS, register_holder

    if not any(getattr(f, "__name__", "") == "serving_sessions" for f in HOLDERS):
        def serving_sessions(ctx):
            from mgw.serve.sessions import SessionHolder  # SQLAlchemy and redis load only when forgetting runs

            return SessionHolder.from_params(ctx.params)
        register_holder(serving_sessions)


def register(sub: argparse._SubParsersAction) -> None:
    _register_holder()
    p = sub.add_parser("serve", help="the search API server (FastAPI under uvicorn); `serve token`, `serve bench`")
    p.add_argument("--host", default=None)
    p.add_argument("--port", type=int, default=None)
    p.add_argument("--workers", type=int, default=None)
    p.add_argument("--redis-url", dest="redis_url", default=None, help="sessions/sync on Redis (default in-process)")
    p.add_argument("--sql-url", dest="sql_url", default=None, help="session checkpoints (default SQLite)")
    p.add_argument("--demo", type=int, default=None, metavar="N",
                   help="serve a seeded demo catalog of N titles (no pipeline outputs needed)")
    p.add_argument("--token-user", default="demo-user", help="print a token for this user at start")
    p.set_defaults(func=_serve, serve_command=None)
    ss = p.add_subparsers(dest="serve_command", metavar="SUBCOMMAND")
    t = ss.add_parser("token", help="issue a JWT with $MGW_JWT_SECRET (serve.jwt_secret_env)")
    t.add_argument("--user", required=True)
    t.set_defaults(serve_func=_token)
    b = ss.add_parser("bench", help="overhead, latency by users, max QPS, SSE clients, Redis fault, fuzz → "
                                    "reports/metrics/serve.json")
    b.add_argument("--full", action="store_true", help="the full settings: 2,000 SSE clients for 60 s, "
                                                       "1,000 fuzz requests")
    b.add_argument("--demo", type=int, default=None, metavar="N")
    b.add_argument("--overhead-only", action="store_true",
                   help="only the server overhead at 1 user (interleaved pairs; < 60 s after the server starts); "
                        "updates serve.json's overhead when it exists")
    b.add_argument("--pin", action="store_true", help="overhead: server on the last core, client on the first")
    b.add_argument("--pairs", type=int, default=None, help="overhead pairs (default serve.bench_overhead_pairs)")
    b.set_defaults(serve_func=_bench)
