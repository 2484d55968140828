"""What notebook 09 shows: scenario pass/fail tables, per-policy comparison, recall/availability over time,
alerts. `outputs`/`load` name and read the DVC outputs; `demo_run` is the small run mgw.notebook.load_or_compute falls
back on when they are absent."""
from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import pandas as pd

from mgw.config import ROOT


SCENARIOS = ("content-discovery-performance", "multi-platform-availability", "self-healing-resilience")


def outputs(scenarios_dir: str | Path, chaos_path: str | Path) -> list[str]:
    """The pipeline outputs notebook 09 reads: one report per scenario, then the chaos comparison."""
    return [str(Path(scenarios_dir) / f"{n}.json") for n in SCENARIOS] + [str(chaos_path)]


def load(*paths: Path) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """(scenario reports, chaos report) from the paths of `outputs`."""
    *scenarios, chaos = (json.loads(Path(p).read_text()) for p in paths)
    return scenarios, chaos


def demo_run() -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """A small run into a temp dir (scaled down, 5 simulated days), for mgw.notebook.load_or_compute."""
    from mgw.sim.scenario import load_scenario, run_scenario, scaled_params
    from mgw.sim.workloads import self_healing

    tmp = Path(tempfile.mkdtemp(prefix="mgw-sim-"))
    reports = [run_scenario(ROOT / "scenarios" / f"{n}.yaml", scale=s, out_dir=tmp, iterations=2)
               for n, s in ((SCENARIOS[0], 0.01), (SCENARIOS[1], 0.02))]
    params = scaled_params(load_scenario(ROOT / "scenarios" / f"{SCENARIOS[2]}.yaml"), 0.015)
    params.update(duration=5 * 86_400_000, probes=60)
    _, chaos = self_healing(params)
    return reports, chaos


def scenario_table(reports: list[dict[str, Any]]) -> pd.DataFrame:
    rows = []
    for rep in reports:
        for name, m in rep["metrics"].items():
            e = rep["expectations"].get(name) or {}
            rows.append({"scenario": rep["scenario"], "metric": name, "unit": m.get("unit", ""), "mean": m["mean"],
                         "std": m["std"], "cv": m["cv"], "min": e.get("min"), "max": e.get("max"),
                         "result": ("pass" if e.get("pass") else "FAIL") if e else "", "margin": e.get("margin")})
    return pd.DataFrame(rows)


def criteria_table(reports: list[dict[str, Any]]) -> pd.DataFrame:
    return pd.DataFrame([{"scenario": r["scenario"], "scale": r["scale"], "iterations": r["iterations"],
                          "variance": "; ".join(f"{k} cv={v['cv']:.3g} {'pass' if v['pass'] else 'FAIL'}"
                                                for k, v in r["variance"].items()),
                          "coherence": r["coherence"]["score"], "coherence_pass": r["coherence"]["pass"],
                          "overall": "PASS" if r["pass"] else "FAIL"} for r in reports])


def policy_table(chaos: dict[str, Any]) -> pd.DataFrame:
    rows = []
    for name, p in chaos["policies"].items():
        rows.append({"policy": name, "slo_uptime": p["uptime"], "outages": p["outages"], "mttr_s": p["mttr_s"],
                     "replica_mttr_s": p["replica_mttr_s"], "degradation_prevented": p["degradation_prevented"],
                     "self_healing_success": p["self_healing_success"], "repair_compute_s": p["repair_compute_s"],
                     "rebuilds": p["ops"].get("rebuild", 0), "alerts": len(p.get("alerts", []))})
    return pd.DataFrame(rows)


def alert_counts(chaos: dict[str, Any]) -> pd.DataFrame:
    """Alerts fired per policy and rule (unresolved = still firing when the simulated period ends)."""
    from mgw.sim.monitoring import alert_summary

    return pd.DataFrame([{"policy": p, "rule": r, **c} for p, rules in alert_summary(chaos).items()
                         for r, c in rules.items()])


def alerts_table(chaos: dict[str, Any]) -> pd.DataFrame:
    return pd.DataFrame([{"policy": n, **a} for n, p in chaos["policies"].items() for a in p.get("alerts", [])])


def plot_timelines(chaos: dict[str, Any]):
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 1, figsize=(10, 6), sharex=True)
    for name, p in chaos["policies"].items():
        t = [s["t"] / 86_400 for s in p["timeline"]]
        axes[0].step(t, [s["recall"] for s in p["timeline"]], where="post", label=name)
        axes[1].step(t, [1 if s["up"] else 0 for s in p["timeline"]], where="post", label=name)
    axes[0].set_ylabel("served recall@10")
    axes[1].set_ylabel("SLO up (1) / down (0)")
    axes[1].set_xlabel("simulated day")
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    return fig
