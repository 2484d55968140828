"""Chaos simulation and repair policies on a tiny cluster (seconds, not minutes)."""
import numpy as np
import pytest

from mgw.sim.chaos import DAY, ChaosConfig, Event, FailureSpec, make_trace, run_policy, build_base
from mgw.sim.graph import HnswConfig, HnswReplica
from mgw.sim.repair import compare, make_policy, measure_costs
from mgw.errors import DataError


def tiny(**kw):
    base = dict(duration_s=6 * DAY, catalog_size=300, dim=32, clusters=10, probes=50, restart_s=0.5,
                hnsw=HnswConfig(M=6, efConstruction=32, efSearch=12), daily_churn=0.05, fragmentation_churn=0.3,
                intensity=1.0, seed=3)
    base.update(kw)
    return ChaosConfig(**base)


def test_trace_is_seeded_and_counts_scale_with_intensity():
    cfg = tiny(duration_s=30 * DAY, intensity=50)
    a, b = make_trace(cfg), make_trace(cfg)
    assert a == b
    kinds = [e.kind for e in a]
    assert kinds.count("update") == 29
    assert kinds.count("nodeFailure") > 5
    low = make_trace(tiny(duration_s=30 * DAY, intensity=0.0))
    assert {e.kind for e in low} == {"update"}


def test_churn_degrades_recall_and_rebuild_restores_it():
    cfg = tiny()
    catalog, base, _ = build_base(cfg)
    truth = catalog.truth()
    def recall(rep):
        labels, _ = rep.search(catalog.probes, 10)
        return np.mean([len(set(a) & set(b)) for a, b in zip(labels.tolist(), catalog.truth().tolist())]) / 10
    r0 = recall(base)
    for _ in range(6):
        catalog.churn(0.3)
        deleted, labels, vectors = catalog.log[-1]
        base.churn(deleted, labels, vectors)
    r_churned = recall(base)
    fresh = HnswReplica(cfg.hnsw, cfg.dim, cfg.catalog_size, seed=cfg.seed)
    fresh.build(catalog.labels, catalog.vectors)
    assert r_churned < r0  # damage is measured, not assumed
    assert recall(fresh) > r_churned
    assert truth.shape == (cfg.probes, 10)


def test_unreachable_counts_live_nodes_only():
    cfg = tiny()
    catalog, base, _ = build_base(cfg)
    assert base.unreachable() == 0  # a fresh HNSW graph is connected from its entry point
    for lab in catalog.labels[:290].tolist():
        base.index.mark_deleted(int(lab))
    assert 0 <= base.unreachable() <= 10


def test_node_failure_without_repair_stays_down_until_manual_restart():
    cfg = tiny(replication=1, manual_recovery_s=DAY, failures={})
    catalog, base, _ = build_base(cfg)
    costs = measure_costs(cfg, catalog, base, repeats=1)
    trace = [Event(DAY, "nodeFailure", 0)]
    none = run_policy(cfg, trace, make_policy("none", cfg), costs)
    reactive = run_policy(cfg, trace, make_policy("reactive", cfg), costs)
    # none: down for the manual delay; reactive: detection (≤ check interval) + restart + re-sync
    assert none["downtime_s"] == pytest.approx(DAY + costs["restart_s"] + none["compute_by_op_s"]["rebuild"], rel=1e-3)
    assert reactive["downtime_s"] < cfg.check_interval_s + costs["restart_s"] + 5
    assert none["incidents"][0]["auto"] is False and reactive["incidents"][0]["auto"] is True


def test_losing_two_of_three_replicas_overloads_the_cluster():
    cfg = tiny(utilization=0.45, failures={})
    trace = [Event(DAY, "nodeFailure", 0), Event(DAY + 1, "nodeFailure", 1)]
    catalog, base, _ = build_base(cfg)
    costs = measure_costs(cfg, catalog, base, repeats=1)
    res = run_policy(cfg, trace, make_policy("none", cfg), costs)
    down = [s for s in res["timeline"] if not s["up"]]
    assert down and all(s["serving"] == 1 for s in down)


def test_compare_runs_every_policy_on_one_trace():
    cfg = tiny(intensity=30, failures={"graphFragmentation": FailureSpec(0.01, DAY),
                                       "nodeFailure": FailureSpec(0.001, 3600.0)})
    res = compare(cfg)
    assert set(res["policies"]) == {"none", "reactive", "threshold", "periodic", "mpc"}
    assert res["costs"]["rebuild_s"] > 0 and res["costs"]["restart_s"] == 0.5
    pol = res["policies"]
    for name, p in pol.items():
        assert 0 <= p["uptime"] <= 1
    assert pol["periodic"]["ops"].get("rebuild", 0) > 0
    assert pol["none"]["ops"].get("rebuild", 0) == 0
    assert pol["periodic"]["repair_compute_s"] > pol["none"]["repair_compute_s"]


def test_unknown_policy_is_rejected():
    with pytest.raises(DataError):
        make_policy("magic", tiny())


def test_replicas_share_an_index_until_one_diverges():
    import simpy

    from mgw.sim.chaos import BuildCache, Cluster

    cfg = tiny(failures={})
    catalog, base, _ = build_base(cfg)
    costs = measure_costs(cfg, catalog, base, repeats=1)
    cluster = Cluster(cfg, simpy.Environment(), catalog, base, costs, BuildCache(cfg, catalog))
    a, b, c = cluster.replicas
    assert a.graph is b.graph is c.graph  # identical copies are one object (copy-on-write)
    c.partitioned = True
    cluster.apply_update(0.1)
    assert a.graph is b.graph and c.graph is not a.graph  # the partitioned replica kept its own copy
    assert a.applied == b.applied == 1 and c.applied == 0
    labels, _ = c.graph.search(catalog.probes, 10)
    assert not np.isin(catalog.log[0][1], labels).any()  # c did not see the update's new items
    assert cluster.catch_up(c) == len(catalog.log[0][1]) and c.applied == 1


def test_default_scenario_fresh_index_meets_slo_and_churn_breaks_it():
    """The defaults must let policies differ: a fresh index meets the SLO, accumulated churn breaks it."""
    from mgw.config import ROOT, load_params
    from mgw.sim.modes import chaos_config
    from mgw.sim.repair import _recall
    from mgw.sim.scenario import load_scenario, scaled_params

    params = scaled_params(load_scenario(ROOT / "scenarios" / "self-healing-resilience.yaml"), load_params().sim.scale)
    cfg = chaos_config(params)
    catalog, base, _ = build_base(cfg)
    catalog.truth()
    assert _recall(base, catalog, 0) >= cfg.recall_target
    for day in range(8):
        catalog.churn(cfg.fragmentation_churn if day == 0 else cfg.daily_churn)
        base.churn(*catalog.log[-1])
    catalog.truth()
    assert _recall(base, catalog, catalog.version) < cfg.recall_target
    fresh = HnswReplica(cfg.hnsw, cfg.dim, cfg.catalog_size, seed=cfg.seed)
    fresh.build(catalog.labels, catalog.vectors)
    assert _recall(fresh, catalog, catalog.version) >= cfg.recall_target
