"""`mgw` command line: a thin dispatcher. Each area registers its own commands in `mgw/<area>/commands.py`
(function `register(subparsers)`), so the CLI stays a table of contents and holds no logic.
Nothing imports this module."""
from __future__ import annotations

import argparse
import importlib
import logging
import sys

from mgw.config import InvalidConfigError, load_params
from mgw.errors import MgwError

# Modules that define `register(subparsers)`; order is the order of `mgw --help`.
COMMAND_MODULES = (
    "mgw.data.commands",      # ingest, resolve, embed
    "mgw.index.commands",     # bench
    "mgw.tune.commands",      # tune
    "mgw.hypergraph.commands",  # hypergraph, parse, search
    "mgw.rerank.commands",    # train, models
    "mgw.abtest.commands",    # abtest
    "mgw.store.commands",     # store, snapshot, privacy
    "mgw.cache.commands",     # cache
    "mgw.sim.commands",       # scenario, chaos
    "mgw.serve.commands",     # serve (token, bench)
    "mgw.scale.commands",     # scale
    "mgw.distributed.commands",  # ray
    "mgw.report_commands",    # report
    "mgw.report_index",       # report-index, claims
    "mgw.doctor",             # doctor
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mgw", description="Media Gateway research workbench")
    parser.add_argument("--params", default=None, help="params.yaml to read (default: repo params.yaml)")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(levelname)s %(name)s: %(message)s")
    if not getattr(args, "func", None):
        parser.print_help()
        return 1
    try:
        if args.params is not None:
            load_params(args.params)  # a missing or broken --params file fails every command, never runs on defaults
        rc = args.func(args)
    except (InvalidConfigError, MgwError, ValueError, FileNotFoundError, KeyError) as e:
        if args.verbose:
            raise
        print(f"mgw {args.command}: error: {type(e).__name__}: {e}", file=sys.stderr)
        return 2
    return int(rc or 0)
