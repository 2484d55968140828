"""Prometheus metrics of the live server (seed §7): request latency histograms per channel, requests by
channel and status, open SSE connections, and the cache hit ratio per level read from the cache at scrape
time. One registry per app, so tests and several apps in one process do not share counters."""
from __future__ import annotations

from typing import Any, Callable, Iterable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily

from mgw.sim.monitoring import LATENCY_BUCKETS_S

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class _CacheCollector:
    def __init__(self, caches: Callable[[], Iterable[tuple[str, Any]]]):
        self.caches = caches

    def collect(self):
        ratio = GaugeMetricFamily("mgw_cache_hit_ratio", "cache hit ratio per search model and level",
                                  labels=["model", "level"])
        for model, cache in self.caches():
            for level, m in cache.metrics().items():
                ratio.add_metric([model, level], float(m.get("hit_rate", 0.0) or 0.0))
        yield ratio


class ServeMetrics:
    def __init__(self, caches: Callable[[], Iterable[tuple[str, Any]]] = lambda: ()):
        self.registry = CollectorRegistry()
        buckets = tuple(sorted(set(LATENCY_BUCKETS_S + (0.25, 1.0, 2.5))))
        self.latency = Histogram("mgw_request_seconds", "request latency by channel", ["channel"],
                                 buckets=buckets, registry=self.registry)
        self.requests = Counter("mgw_requests", "requests by channel and status", ["channel", "status"],
                                registry=self.registry)
        self.sse = Gauge("mgw_sse_connections", "open SSE streams", registry=self.registry)
        self.events = Counter("mgw_events", "user events accepted", ["action"], registry=self.registry)
        self.registry.register(_CacheCollector(caches))

    def observe(self, channel: str, status: int, seconds: float) -> None:
        self.latency.labels(channel).observe(seconds)
        self.requests.labels(channel, str(status)).inc()

    def text(self) -> bytes:
        return generate_latest(self.registry)
