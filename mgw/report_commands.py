"""`mgw report`: execute a notebook with papermill and export it to HTML (used by every report stage)."""
from __future__ import annotations

import argparse

import yaml

from mgw.reporting import render_notebook


def _run_report(args: argparse.Namespace) -> int:
    params = {k: yaml.safe_load(v) for k, v in (args.param or [])}
    out = render_notebook(args.notebook, args.html, parameters=params, with_code=args.with_code)
    print(out)
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("report", help="execute a notebook (papermill) and write its HTML report")
    p.add_argument("notebook")
    p.add_argument("html")
    p.add_argument("-p", "--param", nargs=2, action="append", metavar=("NAME", "VALUE"),
                   help="notebook parameter (value parsed as YAML); repeatable")
    p.add_argument("--with-code", action="store_true", help="keep the code cells in the HTML (default: results only)")
    p.set_defaults(func=_run_report)
