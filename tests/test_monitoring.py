"""Prometheus exposition and alert rules firing / resolving over series."""
import pytest
from prometheus_client.parser import text_string_to_metric_families

from mgw.errors import DataError
from mgw.sim.monitoring import DEFAULT_RULES, AlertRule, evaluate, evaluate_all, exposition, timeline_series

P95 = AlertRule("HighSearchLatency", "search_latency_p95_us", ">", 200, 300_000, "warning")


def test_fires_after_duration_and_resolves():
    series = [(0, 100), (60, 250), (120, 260), (360, 300), (420, 150), (480, 120)]
    (a,) = evaluate(P95, series)
    assert a.pending_at == 60 and a.fired_at == 360 and a.resolved_at == 420 and a.peak == 300


def test_short_spike_does_not_fire():
    assert evaluate(P95, [(0, 100), (60, 900), (200, 100)]) == []


def test_still_firing_at_end_is_unresolved():
    (a,) = evaluate(P95, [(0, 300), (400, 300)])
    assert a.fired_at == 300 and a.resolved_at is None


def test_zero_duration_and_below_condition():
    rule = AlertRule("Down", "serving_replicas", "<", 1, 0, "critical")
    alerts = evaluate(rule, [(0, 3), (10, 0), (20, 2)])
    assert [(a.fired_at, a.resolved_at) for a in alerts] == [(10, 20)]


def test_bad_rules_and_series():
    with pytest.raises(DataError):
        AlertRule("x", "m", "~", 1, 0)
    with pytest.raises(DataError):
        AlertRule("x", "m", ">", 1, 0, "fatal")
    with pytest.raises(DataError):
        evaluate(P95, [(10, 1), (5, 1)])


def test_default_rules_over_a_simulated_timeline():
    tl = [{"t": 0, "recall": 0.97, "serving": 3, "p99_ms": 1, "up": True},
          {"t": 100, "recall": 0.93, "serving": 3, "p99_ms": 1, "up": False},
          {"t": 1000, "recall": 0.97, "serving": 2, "p99_ms": 1, "up": True},
          {"t": 1200, "recall": 0.97, "serving": 3, "p99_ms": 1, "up": True}]
    alerts = evaluate_all(DEFAULT_RULES, timeline_series(tl))
    names = {a["rule"]: a for a in alerts}
    assert names["RecallBelowSLO"]["fired_at"] == 400 and names["RecallBelowSLO"]["resolved_at"] == 1000
    assert names["ReplicaDown"]["fired_at"] == 1060 and names["ReplicaDown"]["resolved_at"] == 1200


def test_exposition_parses_as_prometheus_text():
    text = exposition(latencies_s=[60e-6, 80e-6, 150e-6], qps=1234.0, cache_hit_rate=0.8, index_size=5000,
                      health={"recall_at_10": 0.97}, labels={"platform": "netflix", "region": "US"})
    fams = {f.name: f for f in text_string_to_metric_families(text)}
    hist = fams["mgw_search_latency_seconds"]
    count = [s for s in hist.samples if s.name.endswith("_count")][0]
    assert count.value == 3 and count.labels == {"platform": "netflix", "region": "US"}
    assert fams["mgw_search_qps"].samples[0].value == 1234.0
    assert fams["mgw_cache_hit_rate"].samples[0].value == 0.8
    assert fams["mgw_memory_bytes"].samples[0].value > 0
    assert fams["mgw_health_recall_at_10"].samples[0].value == 0.97


def test_scenario_exposition_has_every_latency_sample():
    from mgw.sim.monitoring import scenario_exposition

    rep = {"scenario": "cd", "params": {"contentCatalog": 100},
           "metrics": {"latencyP50": {"mean": 80.0}, "throughput": {"mean": 500.0}, "recallAt10": {"mean": 0.97},
                       "memory": {"mean": 2.0}},
           "details": {"latencies_us": [40.0, 80.0, 300.0, 90.0]}}
    fams = {f.name: f for f in text_string_to_metric_families(scenario_exposition(rep))}
    samples = {(s.name, s.labels.get("le")): s.value for s in fams["mgw_search_latency_seconds"].samples}
    assert samples[("mgw_search_latency_seconds_count", None)] == 4
    assert samples[("mgw_search_latency_seconds_bucket", "0.0001")] == 3
    assert fams["mgw_index_bytes"].samples[0].value == 2 * 2**20


def test_alert_summary_counts_fired_and_unresolved():
    from mgw.sim.monitoring import alert_summary

    chaos = {"policies": {"none": {"alerts": [{"rule": "R", "resolved_at": None}, {"rule": "R", "resolved_at": 5}]},
                          "mpc": {"alerts": []}}}
    assert alert_summary(chaos) == {"none": {"R": {"fired": 2, "unresolved": 1}}, "mpc": {}}
