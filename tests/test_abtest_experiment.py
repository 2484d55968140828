"""Offline A/B/n, simulated online experiment, calibration (A/A false-positive rate, planted power), CLI."""
import json

import numpy as np
import pandas as pd
import pytest

from mgw.abtest import calibration as cal
from mgw.abtest.clickmodel import relevance_matrix
from mgw.abtest.experiment import offline_ab, per_user_from_lists, per_user_from_long, simulate_online
from mgw.abtest.run import run_abtest
from mgw.abtest.synthetic import make_synthetic_arms
from mgw.cli import main
from mgw.config import load_params
from mgw.errors import DataError


@pytest.fixture(scope="module")
def world():
    return make_synthetic_arms({"ctl": 1.0, "better": 0.6, "worse": 2.0, "twin": 1.0}, n_users=500, seed=3)


@pytest.fixture(scope="module")
def per_user(world):
    return per_user_from_lists(world)


def test_offline_abn_finds_the_planted_order(per_user):
    r = offline_ab(per_user, "ctl", ["better", "worse"], n_boot=300, mde=0.02)
    assert r["decisions"]["better"]["decision"] == "ship"
    assert r["decisions"]["worse"]["decision"] == "do not ship"
    assert r["multiple_testing"].startswith("Holm over 8")
    holm = [c["p_holm"] for c in r["comparisons"]]
    raw = [c["p_t"] for c in r["comparisons"]]
    assert all(h >= p for h, p in zip(holm, raw))


def test_offline_bad_input(per_user):
    fewer = dict(per_user, better=per_user["better"].iloc[:-5])
    with pytest.raises(DataError, match="different user sets"):
        offline_ab(fewer, "ctl", ["better"], n_boot=100)
    with pytest.raises(DataError, match="no per-user metrics"):
        offline_ab(per_user, "ctl", ["nope"], n_boot=100)
    with pytest.raises(DataError, match="column"):
        offline_ab({k: v.drop(columns="mrr@10") for k, v in per_user.items()}, "ctl", ["better"], n_boot=100)
    small = {k: v.iloc[:12] for k, v in per_user.items()}
    d = offline_ab(small, "ctl", ["better"], n_boot=100, min_users=30)["decisions"]["better"]
    assert d["decision"] == "inconclusive" and "min_users" in d["reason"]
    long = pd.concat([v.assign(ranker=k).reset_index() for k, v in per_user.items()])
    assert set(per_user_from_long(long, ["ctl", "twin"])) == {"ctl", "twin"}
    with pytest.raises(DataError, match="unknown ranker"):
        per_user_from_long(long, ["ctl", "reranker@9.9.9"])


def test_online_simulation_and_interleaving(world):
    r = simulate_online(world, "ctl", "better", fraction=0.5, sessions=5, n_boot=300, seed=1)
    assert abs(r["n_treatment"] - 250) < 45
    s = r["split"]
    assert s["true_ctr"]["treatment"] > s["true_ctr"]["control"]
    assert s["ctr"]["ci_low"] <= s["ctr"]["diff"] <= s["ctr"]["ci_high"]
    il = r["interleaving"]
    assert il["mean_credit"] > 0 and il["p_t"] < 0.05  # interleaving sees the better ranker
    with pytest.raises(DataError, match="unknown arm"):
        simulate_online(world, "ctl", "missing")


def test_aa_offline_false_positive_rate_is_nominal(per_user):
    d = (per_user["twin"]["ndcg@10"] - per_user["ctl"]["ndcg@10"]).to_numpy()
    aa = cal.aa_offline(d, runs=600, n_boot=0, seed=0)
    for test in ("t", "wilcoxon"):
        assert 0.025 <= aa[test]["rate"] <= 0.08, (test, aa[test])
    assert aa[test]["ci_low"] <= aa[test]["rate"] <= aa[test]["ci_high"]
    boot = cal.aa_offline(d, runs=60, n_boot=200, seed=1)["bootstrap"]["rate"]
    assert boot <= 0.15
    with pytest.raises(DataError):
        cal.aa_offline(np.zeros(50))


def test_planted_difference_detected_at_predicted_power(per_user):
    d = (per_user["twin"]["ndcg@10"] - per_user["ctl"]["ndcg@10"]).to_numpy()
    res = cal.planted_offline(d, effect=0.03, runs=600, seed=2)
    assert 0.3 < res["predicted_power_t"] < 0.95
    assert abs(res["t"]["rate"] - res["predicted_power_t"]) < 0.07
    assert cal.planted_offline(d, effect=0.2, runs=100, seed=2)["t"]["rate"] > 0.99


def test_online_calibration(world):
    rel = relevance_matrix(world.lists["ctl"], world.user_ids, world.relevant)
    aa = cal.aa_online(rel, world.user_ids, runs=300, seed=0)
    assert 0.02 <= aa["welch"]["rate"] <= 0.085
    planted = cal.aa_online(rel, world.user_ids, runs=300, seed=1, lift=0.2)
    assert planted["true_ctr_diff"] > 0
    assert abs(planted["welch"]["rate"] - planted["predicted_power"]) < 0.08
    il = cal.aa_interleaving(world.lists["ctl"], rel, runs=30, seed=0)
    assert il["t"]["rate"] <= 0.2


def test_run_abtest_writes_report(tmp_path):
    params = load_params(overrides={"abtest": {"bootstrap": 200, "aa_runs": 20, "synthetic_users": 150,
                                               "calibration_bootstrap": 50}})
    r = run_abtest(params, ["reranker@production", "reranker@candidate", "lightgcn"], source="synthetic",
                   metrics_dir=tmp_path)
    saved = json.loads((tmp_path / "abtest.json").read_text())
    assert saved["source"].startswith("synthetic") and "_provenance" in saved
    assert set(saved["offline"]["decisions"]) == {"reranker@candidate", "lightgcn"}
    assert set(r["online"]) == {"reranker@candidate", "lightgcn"}
    assert {"aa", "planted"} <= set(saved["calibration"]["offline"])


def test_cli(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("MGW_ABTEST__AA_RUNS", "10")
    monkeypatch.setenv("MGW_ABTEST__SYNTHETIC_USERS", "100")
    monkeypatch.setenv("MGW_ABTEST__BOOTSTRAP", "100")
    rc = main(["abtest", "--source", "synthetic", "--no-calibration", "--metrics-dir", str(tmp_path),
               "utility", "reranker@production"])
    assert rc == 0 and "DECISION reranker@production vs utility" in capsys.readouterr().out
    assert main(["abtest", "--source", "synthetic", "--metrics-dir", str(tmp_path), "utility", "bogus"]) == 2
    assert main(["abtest", "--source", "synthetic", "--metrics-dir", str(tmp_path), "utility", "utility"]) == 2


def test_per_task_decisions_read_the_train_outputs(tmp_path):
    """`mgw abtest` asks "ship the GAT?" per task: its GAT vs that task's best baseline, from train's files."""
    from mgw.abtest.run import per_task
    from mgw.config import load_params

    rng = np.random.default_rng(0)
    rows = []
    for task, lift in (("recommend", 0.0), ("search", 0.3)):
        for u in range(80):
            base = rng.uniform(0, 0.5)
            for ranker, v in (("als", base), ("reranker@1.0.0", base + lift + rng.normal(0, 0.05))):
                rows.append({"ranker": ranker, "user_id": f"u{u}", "task": task, "ndcg@10": v, "recall@10": v,
                             "mrr@10": v, "hitrate@10": float(v > 0.25)})
    pd.DataFrame(rows).to_parquet(tmp_path / "tasks.parquet")
    (tmp_path / "rerank.json").write_text(json.dumps({"model": {"version": "1.0.0"}, "headline": {
        "recommend": {"best_baseline": "als"}, "search": {"best_baseline": "als"}, "rerank_p50_ms": 0.1}}))
    out = per_task(load_params(), metrics_file=tmp_path / "rerank.json", tasks_file=tmp_path / "tasks.parquet")
    assert set(out) == {"recommend", "search"}
    assert out["search"]["control"] == "als" and out["search"]["n_users"] == 80
    assert out["search"]["decisions"]["reranker@1.0.0"]["decision"] == "ship"
    assert out["recommend"]["decisions"]["reranker@1.0.0"]["decision"] != "ship"
    assert per_task(load_params(), metrics_file=tmp_path / "none.json", tasks_file=tmp_path / "tasks.parquet") == {}
