"""YAML scenarios (seed §1.4): load, run the iterations, and judge them.

A scenario names its workload, its sizes (multiplied by `scale`), iterations, and expected ranges. The runner
reports each metric's mean, standard deviation and coefficient of variation (CV = std / |mean|), checks
every expectation against the mean (pass/fail with the signed margin to the bound; bounds are never
loosened), the variance criterion (CV < `variance.max_cv` for the listed metrics; seed: latency < 2.5 %),
and the coherence score: the share of reported metrics whose iterations agree within `coherence.tolerance`
(CV ≤ tolerance; seed target > 95 %).
"""
from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from mgw.config import ROOT
from mgw.errors import DataError


class Bound(BaseModel):
    model_config = ConfigDict(extra="forbid")
    min: float | None = None
    max: float | None = None


class Variance(BaseModel):
    model_config = ConfigDict(extra="forbid")
    metrics: list[str] = []
    max_cv: float = Field(0.025, gt=0)


class Coherence(BaseModel):
    model_config = ConfigDict(extra="forbid")
    tolerance: float = Field(0.05, gt=0)
    target: float = Field(0.95, gt=0, le=1)


class Scenario(BaseModel):
    """One scenario file. `workload` selects a function in `mgw.sim.workloads`; `params` are its settings
    (sizes listed in `scaled` are multiplied by the run's scale)."""

    model_config = ConfigDict(extra="forbid")
    scenario: str
    objective: str = ""
    workload: str
    data: str = "simulated"  # simulated | real
    iterations: int = Field(3, ge=1)
    metrics: list[str] = []
    units: dict[str, str] = {}
    params: dict[str, Any] = {}
    scaled: list[str] = []
    expectedResults: dict[str, Bound] = {}
    variance: Variance = Variance()
    coherence: Coherence = Coherence()


def load_scenario(path: str | Path) -> Scenario:
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"scenario file not found: {path}")
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as e:
        raise DataError(f"scenario {path}: not valid YAML: {e}") from e
    try:
        sc = Scenario.model_validate(raw or {})
    except ValidationError as e:
        msgs = "; ".join(f"{'.'.join(map(str, x['loc']))}: {x['msg']}" for x in e.errors())
        raise DataError(f"scenario {path}: {msgs}") from None
    from mgw.sim.workloads import WORKLOADS

    if sc.workload not in WORKLOADS:
        raise DataError(f"scenario {path}: unknown workload {sc.workload!r} (known: {', '.join(WORKLOADS)})")
    missing = [k for k in sc.scaled if k not in sc.params]
    if missing:
        raise DataError(f"scenario {path}: scaled keys not in params: {missing}")
    return sc


def scaled_params(sc: Scenario, scale: float) -> dict[str, Any]:
    """Workload params with the `scaled` sizes multiplied by `scale` (at least 1)."""
    if not 0 < scale <= 1:
        raise DataError(f"scale must be in (0, 1], got {scale}")
    out = dict(sc.params)
    for key in sc.scaled:
        out[key] = max(1, int(round(float(sc.params[key]) * scale)))
    return out


def summarize(values: list[float]) -> dict[str, Any]:
    arr = np.asarray([v for v in values if v is not None and math.isfinite(v)], dtype=float)
    if arr.size == 0:
        return {"values": values, "mean": None, "std": None, "cv": None}
    mean = float(arr.mean())
    std = float(arr.std(ddof=1)) if arr.size > 1 else 0.0
    cv = (std / abs(mean)) if mean != 0 else (0.0 if std == 0 else math.inf)
    return {"values": values, "mean": mean, "std": std, "cv": cv}


def check(value: float | None, bound: Bound) -> dict[str, Any]:
    """Pass/fail of one mean against [min, max]; margin = distance inside the bound (negative = outside),
    also relative to the bound."""
    if value is None:
        return {"value": None, "min": bound.min, "max": bound.max, "pass": False, "margin": None,
                "margin_rel": None}
    margins = []
    if bound.min is not None:
        margins.append((value - bound.min, bound.min))
    if bound.max is not None:
        margins.append((bound.max - value, bound.max))
    worst, ref = min(margins, key=lambda m: m[0]) if margins else (0.0, 0.0)
    return {"value": value, "min": bound.min, "max": bound.max, "pass": worst >= 0, "margin": worst,
            "margin_rel": (worst / abs(ref)) if ref else None}


def judge(sc: Scenario, per_metric: dict[str, dict[str, Any]]) -> dict[str, Any]:
    expectations = {name: check((per_metric.get(name) or {}).get("mean"), bound)
                    for name, bound in sc.expectedResults.items()}
    variance = {}
    for name in sc.variance.metrics:
        cv = (per_metric.get(name) or {}).get("cv")
        variance[name] = {"cv": cv, "max_cv": sc.variance.max_cv, "pass": cv is not None and cv < sc.variance.max_cv}
    agree = {name: (m["cv"] is not None and m["cv"] <= sc.coherence.tolerance) for name, m in per_metric.items()}
    score = (sum(agree.values()) / len(agree)) if agree else None
    coherence = {"score": score, "tolerance": sc.coherence.tolerance, "target": sc.coherence.target,
                 "agreeing": agree, "pass": score is not None and score > sc.coherence.target}
    passed = (all(e["pass"] for e in expectations.values()) and all(v["pass"] for v in variance.values())
              and coherence["pass"])
    return {"expectations": expectations, "variance": variance, "coherence": coherence, "pass": passed}


def run_scenario(path: str | Path, scale: float = 0.05, seed: int = 42, threads: int = 2,
                 out_dir: str | Path | None = None, iterations: int | None = None) -> dict[str, Any]:
    """Run every iteration of a scenario, judge it, write `<out_dir>/<name>.json` (default reports/scenarios)."""
    from tqdm import tqdm

    from mgw.reporting import write_json_atomic
    from mgw.provenance import stamp
    from mgw.sim.workloads import WORKLOADS

    sc = load_scenario(path)
    params = scaled_params(sc, scale)
    workload = WORKLOADS[sc.workload]
    n_iter = iterations or sc.iterations
    runs, details = [], None
    t0 = time.perf_counter()
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=threads):  # BLAS (exact ground truth, probes) on `threads` cores too
        for i in tqdm(range(n_iter), desc=sc.scenario, leave=False):
            metrics, details = workload(params, data=sc.data, seed=seed, iteration=i, threads=threads)
            runs.append(metrics)
    names = sc.metrics or sorted({k for r in runs for k in r})
    per_metric = {name: summarize([r.get(name) for r in runs]) for name in names}
    for name in per_metric:
        per_metric[name]["unit"] = sc.units.get(name, "")
    verdict = judge(sc, per_metric)
    report = {"scenario": sc.scenario, "objective": sc.objective, "workload": sc.workload, "data": sc.data,
              "scale": scale, "params": params, "iterations": n_iter, "metrics": per_metric, **verdict,
              "details": details, "wall_s": time.perf_counter() - t0, "_provenance": stamp(seed=seed, threads=threads)}
    out = Path(out_dir) if out_dir else ROOT / "reports" / "scenarios"
    report["path"] = str(write_json_atomic(out / f"{sc.scenario}.json", report))
    return report


def summary_table(report: dict[str, Any]) -> str:
    """Plain-text table of one scenario report: metric, mean ± std, CV, bound, pass/fail."""
    lines = [f"scenario {report['scenario']} (scale {report['scale']}, {report['iterations']} iterations): "
             f"{'PASS' if report['pass'] else 'FAIL'}",
             f"{'metric':<28}{'mean':>13} {'std':>12} {'cv':>12}  {'expected':<20}result"]
    for name, m in report["metrics"].items():
        e = report["expectations"].get(name)
        bound = "" if e is None else f"[{e['min'] if e['min'] is not None else ''}, {e['max'] if e['max'] is not None else ''}]"
        verdict = "" if e is None else ("pass" if e["pass"] else f"FAIL (margin {e['margin']:.4g})")
        fmt = lambda x: "n/a" if x is None else f"{x:.6g}"  # noqa: E731
        lines.append(f"{name + (' ' + m['unit'] if m.get('unit') else ''):<28}{fmt(m['mean']):>13} {fmt(m['std']):>12} "
                     f"{fmt(m['cv']):>12}  {bound:<20}{verdict}")
    for name, v in report["variance"].items():
        lines.append(f"variance {name}: cv {v['cv']:.4g} < {v['max_cv']}: {'pass' if v['pass'] else 'FAIL'}")
    c = report["coherence"]
    lines.append(f"coherence {c['score']:.3f} (> {c['target']}, tolerance {c['tolerance']}): "
                 f"{'pass' if c['pass'] else 'FAIL'}")
    lines.append(f"→ {report['path']}")
    return "\n".join(lines)
