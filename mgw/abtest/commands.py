"""`mgw abtest A B [C ...]`: wiring only; the work is in `mgw.abtest.run.run_abtest`."""
from __future__ import annotations

import argparse

from mgw.config import load_params


def _run(args: argparse.Namespace) -> int:
    from mgw.abtest.run import run_abtest, summary_lines

    params = load_params(args.params)
    result = run_abtest(params, arms=args.arms or None, control=args.control, source=args.source,
                        online=not args.no_online, calibrate=not args.no_calibration,
                        metrics_dir=args.metrics_dir)
    for line in summary_lines(result):
        print(line)
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("abtest", help="A/B/n comparison of rankers: paired offline stats, simulated online test, "
                                      "calibration → reports/metrics/abtest.json")
    p.add_argument("arms", nargs="*", help="rankers: retriever popularity utility lightgcn reranker@<version|alias> "
                                           "(default: params abtest.control abtest.treatment)")
    p.add_argument("--control", default=None, help="control arm (default: the first arm)")
    p.add_argument("--source", choices=("auto", "synthetic"), default=None,
                   help="auto: the reranker's per-user metrics; synthetic: seeded toy world (default: params)")
    p.add_argument("--no-online", action="store_true", help="skip the simulated online experiment")
    p.add_argument("--no-calibration", action="store_true", help="skip the A/A and planted-difference runs")
    p.add_argument("--metrics-dir", default=None, help="where abtest.json goes (default reports/metrics)")
    p.set_defaults(func=_run)
