"""Monitoring (seed §7): Prometheus text exposition, and alert rules evaluated over time series.

`exposition(...)` fills a private prometheus_client registry (latency histogram, QPS, cache hit rate,
memory, index size, health gauges) and returns the text format a Prometheus server scrapes.

`AlertRule` is the seed's AlertRule (metric, condition, threshold, duration, severity). `evaluate` walks a
series of (t seconds, value) samples like Prometheus' `for:` clause: a rule becomes *pending* when the
condition first holds, *fires* once it has held for `duration`, and *resolves* at the first sample where
it no longer holds. Samples are step values (a value holds until the next sample).
"""
from __future__ import annotations

import operator
from dataclasses import asdict, dataclass, field
from typing import Any, Iterable

from prometheus_client import CollectorRegistry, Gauge, Histogram, generate_latest

from mgw.errors import DataError

CONDITIONS = {">": operator.gt, ">=": operator.ge, "<": operator.lt, "<=": operator.le, "==": operator.eq,
              "!=": operator.ne}
LATENCY_BUCKETS_S = (25e-6, 50e-6, 100e-6, 200e-6, 500e-6, 1e-3, 2e-3, 5e-3, 15e-3, 50e-3, 0.1, 0.5)


@dataclass(frozen=True)
class AlertRule:
    name: str
    metric: str
    condition: str
    threshold: float
    duration_ms: float  # sustained for (seed: ms)
    severity: str = "warning"
    notificationChannels: tuple[str, ...] = ()

    def __post_init__(self):
        if self.condition not in CONDITIONS:
            raise DataError(f"alert {self.name}: unknown condition {self.condition!r} (known: {', '.join(CONDITIONS)})")
        if self.severity not in ("critical", "warning", "info"):
            raise DataError(f"alert {self.name}: severity must be critical|warning|info, got {self.severity!r}")
        if self.duration_ms < 0:
            raise DataError(f"alert {self.name}: duration must be ≥ 0")


# Seed §7.2 example plus the rules the simulation's SLO needs.
DEFAULT_RULES = (
    AlertRule("HighSearchLatency", "search_latency_p95_us", ">", 200, 300_000, "warning", ("pagerduty", "slack")),
    AlertRule("HighP99Latency", "search_latency_p99_ms", ">", 5.0, 300_000, "warning", ("slack",)),
    AlertRule("RecallBelowSLO", "cluster_recall_at_10", "<", 0.95, 300_000, "critical", ("pagerduty",)),
    AlertRule("ReplicaDown", "serving_replicas", "<", 3, 60_000, "warning", ("slack",)),
    AlertRule("ClusterDown", "serving_replicas", "<", 1, 0, "critical", ("pagerduty",)),
)


@dataclass
class Alert:
    rule: str
    severity: str
    pending_at: float
    fired_at: float | None = None
    resolved_at: float | None = None
    peak: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def evaluate(rule: AlertRule, series: Iterable[tuple[float, float]]) -> list[Alert]:
    """Alerts (fired ones, and a trailing pending one never fired is dropped) of one rule over one series."""
    cond = CONDITIONS[rule.condition]
    need = rule.duration_ms / 1000.0
    out: list[Alert] = []
    cur: Alert | None = None
    last_t = None
    for t, v in series:
        if last_t is not None and t < last_t:
            raise DataError(f"alert {rule.name}: series must be sorted by time")
        last_t = t
        holds = v is not None and cond(v, rule.threshold)
        if cur is not None and cur.fired_at is None and t - cur.pending_at >= need and holds:
            cur.fired_at = cur.pending_at + need
        if holds:
            if cur is None:
                cur = Alert(rule.name, rule.severity, pending_at=t, peak=v)
                if need == 0:
                    cur.fired_at = t
            else:
                cur.peak = v if rule.condition in (">", ">=") and v > cur.peak else (
                    v if rule.condition in ("<", "<=") and v < cur.peak else cur.peak)
        elif cur is not None:
            if cur.fired_at is None and t - cur.pending_at >= need:  # held for the whole step before t
                cur.fired_at = cur.pending_at + need
            if cur.fired_at is not None:
                cur.resolved_at = t
                out.append(cur)
            cur = None
    if cur is not None and cur.fired_at is not None:
        out.append(cur)
    return out


def evaluate_all(rules: Iterable[AlertRule], series: dict[str, list[tuple[float, float]]]) -> list[dict[str, Any]]:
    """Every rule whose metric has a series; alerts as dicts sorted by firing time."""
    alerts = []
    for rule in rules:
        if rule.metric in series:
            alerts += [asdict(a) for a in evaluate(rule, series[rule.metric])]
    return sorted(alerts, key=lambda a: a["fired_at"])


def timeline_series(timeline: list[dict[str, Any]]) -> dict[str, list[tuple[float, float]]]:
    """Chaos-simulation timeline → metric series for the alert rules."""
    return {
        "cluster_recall_at_10": [(s["t"], s["recall"]) for s in timeline],
        "serving_replicas": [(s["t"], float(s["serving"])) for s in timeline],
        "search_latency_p99_ms": [(s["t"], s["p99_ms"]) for s in timeline],
        "cluster_up": [(s["t"], 1.0 if s["up"] else 0.0) for s in timeline],
    }


def exposition(latencies_s: Iterable[float] = (), qps: float | None = None, cache_hit_rate: float | None = None,
               memory_bytes: float | None = None, index_size: int | None = None,
               health: dict[str, float] | None = None, labels: dict[str, str] | None = None,
               index_bytes: float | None = None) -> str:
    """Prometheus text exposition of one measurement snapshot (seed §7.1 dimensions go in `labels`)."""
    import psutil

    reg = CollectorRegistry()
    names = sorted(labels or {})
    values = [labels[n] for n in names] if labels else []

    def gauge(name: str, doc: str, value: float | None) -> None:
        if value is None:
            return
        g = Gauge(name, doc, names, registry=reg)
        (g.labels(*values) if names else g).set(value)

    hist = Histogram("mgw_search_latency_seconds", "Search latency per query", names, buckets=LATENCY_BUCKETS_S,
                     registry=reg)
    h = hist.labels(*values) if names else hist
    for x in latencies_s:
        h.observe(float(x))
    gauge("mgw_search_qps", "Queries per second (last measurement)", qps)
    gauge("mgw_cache_hit_rate", "Cache hit rate (0..1)", cache_hit_rate)
    gauge("mgw_memory_bytes", "Resident memory of the process (bytes)",
          memory_bytes if memory_bytes is not None else float(psutil.Process().memory_info().rss))
    gauge("mgw_index_size", "Vectors in the index", index_size)
    gauge("mgw_index_bytes", "Serialized index size (bytes)", index_bytes)
    for key, value in (health or {}).items():
        gauge(f"mgw_health_{key}", f"Health: {key}", value)
    return generate_latest(reg).decode()


def scenario_exposition(report: dict[str, Any]) -> str:
    """Prometheus text for a content-discovery scenario report: the per-query latency histogram of its last
    iteration (all samples, not a summary), mean QPS, index size and bytes, recall as a health gauge."""
    m = {k: v["mean"] for k, v in report["metrics"].items()}
    details = report.get("details") or {}
    lat_us = details.get("latencies_us") or ([m["latencyP50"]] if m.get("latencyP50") is not None else [])
    mb = m.get("memory")
    return exposition(latencies_s=[x / 1e6 for x in lat_us], qps=m.get("throughput"),
                      index_size=(report.get("params") or {}).get("contentCatalog"),
                      index_bytes=mb * 2**20 if mb is not None else None,
                      health={"recall_at_10": m.get("recallAt10")}, labels={"scenario": report["scenario"]})


def alert_summary(chaos: dict[str, Any]) -> dict[str, dict[str, dict[str, int]]]:
    """Per policy and rule: alerts fired, and how many were still firing at the end of the simulation."""
    out: dict[str, dict[str, dict[str, int]]] = {}
    for name, pol in chaos["policies"].items():
        rules = out.setdefault(name, {})
        for a in pol.get("alerts", []):
            r = rules.setdefault(a["rule"], {"fired": 0, "unresolved": 0})
            r["fired"] += 1
            r["unresolved"] += a["resolved_at"] is None
    return out
