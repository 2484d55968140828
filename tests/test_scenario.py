"""Scenario files, judging (expectations, variance, coherence) and small end-to-end runs."""
import json
from pathlib import Path

import pytest
import yaml

from mgw.config import ROOT
from mgw.errors import DataError
from mgw.sim.scenario import Bound, Scenario, check, judge, load_scenario, run_scenario, scaled_params, summarize

SEEDS = ["content-discovery-performance", "multi-platform-availability", "self-healing-resilience"]


@pytest.mark.parametrize("name", SEEDS)
def test_seed_scenarios_load_with_seed_bounds(name):
    sc = load_scenario(ROOT / "scenarios" / f"{name}.yaml")
    assert sc.scenario == name and sc.expectedResults
    small = scaled_params(sc, 0.05)
    for key in sc.scaled:
        assert small[key] < sc.params[key]


def test_seed_bounds_are_not_loosened():
    sc = load_scenario(ROOT / "scenarios" / "content-discovery-performance.yaml")
    assert (sc.expectedResults["latencyP50"].min, sc.expectedResults["latencyP50"].max) == (50, 70)
    assert sc.variance.max_cv == 0.025 and sc.coherence.target == 0.95


def test_bad_scenarios_get_clear_errors(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({"scenario": "x", "workload": "nope"}))
    with pytest.raises(DataError, match="unknown workload"):
        load_scenario(bad)
    bad.write_text(yaml.safe_dump({"scenario": "x", "workload": "content-discovery", "typo": 1}))
    with pytest.raises(DataError, match="typo"):
        load_scenario(bad)
    with pytest.raises(FileNotFoundError):
        load_scenario(tmp_path / "missing.yaml")


def test_check_margins():
    assert check(60, Bound(min=50, max=70))["pass"]
    r = check(194, Bound(min=50, max=70))
    assert not r["pass"] and r["margin"] == pytest.approx(-124) and r["margin_rel"] == pytest.approx(-124 / 70)
    assert check(0.9, Bound(min=0.95))["margin"] == pytest.approx(-0.05)
    assert not check(None, Bound(max=1))["pass"]


def test_variance_and_coherence():
    sc = Scenario(scenario="s", workload="content-discovery", expectedResults={"a": Bound(max=10)},
                  variance={"metrics": ["a"], "max_cv": 0.025}, coherence={"tolerance": 0.05, "target": 0.95})
    steady = {"a": summarize([5.0, 5.01, 4.99]), "b": summarize([1.0, 1.0, 1.0])}
    v = judge(sc, steady)
    assert v["pass"] and v["coherence"]["score"] == 1.0
    noisy = {"a": summarize([5.0, 8.0, 2.0]), "b": summarize([1.0, 1.0, 1.0])}
    v = judge(sc, noisy)
    assert not v["variance"]["a"]["pass"] and v["coherence"]["score"] == 0.5 and not v["pass"]


def test_content_discovery_runs_end_to_end(tmp_path):
    rep = run_scenario(ROOT / "scenarios" / "content-discovery-performance.yaml", scale=0.01, out_dir=tmp_path,
                       iterations=2)
    saved = json.loads(Path(rep["path"]).read_text())
    assert saved["scenario"] == "content-discovery-performance" and saved["iterations"] == 2
    m = saved["metrics"]
    assert 0.9 <= m["recallAt10"]["mean"] <= 1.0 and m["throughput"]["mean"] > 0
    assert set(saved["expectations"]) == {"latencyP50", "recallAt10", "throughput"}
    assert "_provenance" in saved


def test_multi_platform_runs_end_to_end(tmp_path):
    rep = run_scenario(ROOT / "scenarios" / "multi-platform-availability.yaml", scale=0.02, out_dir=tmp_path,
                       iterations=2)
    m = rep["metrics"]
    assert m["resultAccuracy"]["mean"] == pytest.approx(1.0)  # store agrees with the XGI oracle
    # Hulu streams only in the US in the availability model: 3 of 16 platform×region pairs are empty
    assert m["platformCoverage"]["mean"] == pytest.approx(13 / 16)
    assert not rep["expectations"]["platformCoverage"]["pass"]


def test_self_healing_workload_small(tmp_path):
    from mgw.sim.workloads import self_healing

    sc = load_scenario(ROOT / "scenarios" / "self-healing-resilience.yaml")
    params = scaled_params(sc, 0.015)
    params.update(duration=5 * 86_400_000, probes=40, dim=32)
    metrics, details = self_healing(params, seed=1)
    assert set(details["policies"]) == {"none", "reactive", "threshold", "periodic", "mpc"}
    assert 0 <= metrics["uptime"] <= 1 and metrics["avgRecoveryTime"] >= 0
    assert all("alerts" in p for p in details["policies"].values())


def test_chaos_report_reuses_a_current_scenario_run(tmp_path):
    from mgw.sim.workloads import chaos_report

    sc = yaml.safe_load((ROOT / "scenarios" / "self-healing-resilience.yaml").read_text())
    sc["iterations"] = 1
    sc["params"].update(duration=3 * 86_400_000, probes=30, dim=32, catalogSize=10_000)
    path = tmp_path / "sh.yaml"
    path.write_text(yaml.safe_dump(sc))
    rep = run_scenario(path, scale=0.02, seed=5, out_dir=tmp_path / "scen")
    reused = chaos_report(str(path), scale=0.02, seed=5, scenarios_dir=str(tmp_path / "scen"),
                          metrics_dir=str(tmp_path / "m"))
    assert reused["source"].startswith("reused")
    assert reused["policies"]["mpc"]["uptime"] == rep["details"]["policies"]["mpc"]["uptime"]
    assert json.loads((tmp_path / "m" / "chaos.json").read_text())["_provenance"]["seed"] == 5
    other = chaos_report(str(path), scale=0.02, seed=6, scenarios_dir=str(tmp_path / "scen"),
                         metrics_dir=str(tmp_path / "m"))
    assert other["source"] == "simulated"  # another seed: the saved run is not this one
