"""CLI wiring: `mgw scenario run FILE`, `mgw scenario all`, `mgw chaos run`, `mgw metrics expose|alerts`."""
from __future__ import annotations

import json
from pathlib import Path

from mgw.config import load_params


def register(sub) -> None:
    sc = sub.add_parser("scenario", help="run YAML scenarios (seed §1.4) with expectations, variance, coherence")
    scs = sc.add_subparsers(dest="scenario_cmd", metavar="ACTION")
    run = scs.add_parser("run", help="run one scenario file → reports/scenarios/<name>.json")
    run.add_argument("file")
    run.add_argument("--scale", type=float, default=None, help="size multiplier (default params sim.scale)")
    run.add_argument("--iterations", type=int, default=None)
    run.add_argument("--out-dir", "--out", dest="out", default=None, help="output folder (default reports/scenarios)")
    run.set_defaults(func=_scenario_run)
    every = scs.add_parser("all", help="run every scenario listed in params sim.scenarios")
    every.add_argument("--scale", type=float, default=None)
    every.add_argument("--out-dir", "--out", dest="out", default=None, help="output folder (default reports/scenarios)")
    every.set_defaults(func=_scenario_all)

    ch = sub.add_parser("chaos", help="chaos / self-healing simulation: repair policies on one failure trace")
    chs = ch.add_subparsers(dest="chaos_cmd", metavar="ACTION")
    crun = chs.add_parser("run", help="compare repair policies → reports/metrics/chaos.json")
    crun.add_argument("--scenario", default="scenarios/self-healing-resilience.yaml")
    crun.add_argument("--scale", type=float, default=None)
    crun.add_argument("--mode", default=None, help="deployment mode preset (development|staging|production)")
    crun.add_argument("--fresh", action="store_true",
                      help="simulate again even if the scenario report of this run is current")
    crun.set_defaults(func=_chaos_run)

    me = sub.add_parser("metrics", help="Prometheus exposition and alert rules")
    mes = me.add_subparsers(dest="metrics_cmd", metavar="ACTION")
    ex = mes.add_parser("expose", help="print Prometheus text from a scenario report (content-discovery)")
    ex.add_argument("--report", default="reports/scenarios/content-discovery-performance.json")
    ex.set_defaults(func=_metrics_expose)
    al = mes.add_parser("alerts", help="evaluate the alert rules over a chaos report's series")
    al.add_argument("--chaos", default="reports/metrics/chaos.json")
    al.add_argument("--full", action="store_true", help="every alert with pending/fired/resolved times")
    al.set_defaults(func=_metrics_alerts)


def _print(obj) -> None:
    print(json.dumps(obj, indent=2, default=str))


def _scenario_run(args) -> int:
    from mgw.sim.scenario import run_scenario

    p = load_params(args.params)
    rep = run_scenario(args.file, scale=args.scale or p.sim.scale, seed=p.seed, threads=p.sim.threads,
                       out_dir=args.out, iterations=args.iterations)
    from mgw.sim.scenario import summary_table

    print(summary_table(rep))
    return 0


def _scenario_all(args) -> int:
    from mgw.sim.scenario import run_scenario, summary_table

    p = load_params(args.params)
    for path in p.sim.scenarios:
        print(summary_table(run_scenario(path, scale=args.scale or p.sim.scale, seed=p.seed, threads=p.sim.threads,
                                         out_dir=args.out)))
    return 0


def _chaos_run(args) -> int:
    from mgw.sim.workloads import chaos_report

    p = load_params(args.params)
    res = chaos_report(args.scenario, scale=args.scale or p.sim.scale, seed=p.seed, mode=args.mode,
                       reuse=not args.fresh, threads=p.sim.threads)
    print(f"source: {res['source']}")
    _print({k: {m: v[m] for m in ("uptime", "mttr_s", "degradation_prevented", "repair_compute_s")}
            for k, v in res["policies"].items()})
    return 0


def _metrics_expose(args) -> int:
    from mgw.sim.monitoring import scenario_exposition

    print(scenario_exposition(json.loads(Path(args.report).read_text())), end="")
    return 0


def _metrics_alerts(args) -> int:
    from mgw.sim.monitoring import alert_summary

    rep = json.loads(Path(args.chaos).read_text())
    _print({k: v.get("alerts", []) for k, v in rep["policies"].items()} if args.full else alert_summary(rep))
    return 0
