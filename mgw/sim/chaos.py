"""Chaos simulation of a replicated serving cluster (SimPy), with health measured on real HNSW indexes.

Model (seed §1.4.3, §5.3):
- A catalog of unit vectors changes by scheduled updates (`daily_churn` of the items every
  `update_interval_s`) and by unscheduled *graph fragmentation* bursts (`fragmentation_churn` of the items
  at once). Every replica applies each change as mark_deleted + replace_deleted insert on its own hnswlib
  index — the real operations whose accumulated damage lowers recall.
- *Node failure* kills one replica until it is restarted. *Network partition* cuts one replica off for an
  exponential time; it misses catalog updates meanwhile and serves stale data after it heals until caught up.
- Health is measured, never assumed: recall@10 of probe queries against exact ground truth over the current
  catalog, mean query service time (one thread), and nodes unreachable from the entry point. The cluster is
  *up* when the replicas in rotation serve recall@10 ≥ `recall_target` and the p99 latency (M/M/1 queue per
  replica at the offered load, from the measured service time) is ≤ `p99_ms`.
- Repairs (`mgw.sim.repair`) are real index operations; the simulated clock advances by their measured time.

Failures come from a trace drawn once per seed (`make_trace`), so every policy sees the same failures.
"""
from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import simpy

from mgw.sim.graph import HnswConfig, HnswReplica

DAY = 86_400.0
HOUR = 3_600.0


# ------------------------------------------------------------------------------------------ configuration
@dataclass
class FailureSpec:
    probability: float  # chance per interval (seed §1.4.3)
    interval_s: float


@dataclass
class ChaosConfig:
    duration_s: float = 30 * DAY
    catalog_size: int = 2000
    dim: int = 384
    clusters: int = 50
    probes: int = 200
    k: int = 10
    replication: int = 3
    hnsw: HnswConfig = field(default_factory=HnswConfig)
    update_interval_s: float = DAY
    daily_churn: float = 0.02
    fragmentation_churn: float = 0.15
    failures: dict[str, FailureSpec] = field(default_factory=lambda: {
        "graphFragmentation": FailureSpec(0.01, DAY),
        "nodeFailure": FailureSpec(0.001, HOUR),
        "networkPartition": FailureSpec(0.0001, HOUR),
    })
    intensity: float = 1.0  # multiplies every failure probability (stress the policies; 1 = seed rates)
    partition_mean_s: float = 1800.0
    recall_target: float = 0.95
    p99_ms: float = 5.0
    utilization: float = 0.45  # offered load as a share of the healthy cluster's measured capacity
    check_interval_s: float = 10.0  # health-check (scrape) period: detection delay
    manual_recovery_s: float = 4 * HOUR  # policy 'none': an operator restarts a dead replica after this
    restart_s: float | None = None  # process restart + index load; None → measured (repair.measure_costs)
    seed: int = 42


# ------------------------------------------------------------------------------------------ catalog & trace
class Catalog:
    """Current items (label per row, unit vectors) and the log of changes replicas replay."""

    def __init__(self, cfg: ChaosConfig, rng: np.random.Generator):
        self.rng = rng
        self.centers = rng.normal(size=(cfg.clusters, cfg.dim)).astype(np.float32)
        self.vectors = self._draw(cfg.catalog_size)
        self.labels = np.arange(cfg.catalog_size, dtype=np.int64)
        self.next_label = cfg.catalog_size
        self.log: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []  # (deleted, new labels, new vectors)
        self.probes = self._draw(cfg.probes)
        self.k = cfg.k
        self._truths: dict[int, np.ndarray] = {}  # version → exact top-k; shared by forks (same versions)
        # (compare() also reads it to report the recall of each freshly built index)

    def fork(self) -> "Catalog":
        """Independent copy in the same state (same future churn draws); shares the ground-truth cache, so
        every policy run over one trace computes each version's exact top-k once."""
        other = copy.copy(self)
        other.rng = copy.deepcopy(self.rng)
        other.vectors, other.labels, other.log = self.vectors.copy(), self.labels.copy(), list(self.log)
        return other

    def _draw(self, n: int) -> np.ndarray:
        x = self.centers[self.rng.integers(0, len(self.centers), n)]
        x = x + 0.6 * self.rng.normal(size=x.shape).astype(np.float32)
        return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)

    @property
    def version(self) -> int:
        return len(self.log)

    def churn(self, fraction: float) -> None:
        rows = self.rng.choice(len(self.labels), max(1, int(round(fraction * len(self.labels)))), replace=False)
        deleted = self.labels[rows].copy()
        new_labels = np.arange(self.next_label, self.next_label + len(rows), dtype=np.int64)
        self.next_label += len(rows)
        new_vectors = self._draw(len(rows))
        self.labels[rows], self.vectors[rows] = new_labels, new_vectors
        self.log.append((deleted, new_labels, new_vectors))

    def truth(self) -> np.ndarray:
        """Exact top-k labels of the probes over the current catalog (cached per version)."""
        if self.version not in self._truths:
            sims = self.probes @ self.vectors.T
            top = np.argpartition(-sims, self.k, axis=1)[:, : self.k]
            self._truths[self.version] = self.labels[top]
        return self._truths[self.version]


@dataclass(frozen=True)
class Event:
    t: float
    kind: str  # update | graphFragmentation | nodeFailure | networkPartition
    replica: int = -1
    duration: float = 0.0


def make_trace(cfg: ChaosConfig) -> list[Event]:
    """Scheduled updates plus failures drawn per interval with probability × intensity (seeded)."""
    rng = np.random.default_rng(cfg.seed + 1)
    events = [Event(t, "update") for t in np.arange(cfg.update_interval_s, cfg.duration_s, cfg.update_interval_s)]
    for kind, spec in cfg.failures.items():
        p = min(1.0, spec.probability * cfg.intensity)
        n = int(cfg.duration_s // spec.interval_s)
        for i in np.flatnonzero(rng.random(n) < p):
            t = float((i + rng.random()) * spec.interval_s)
            replica = int(rng.integers(cfg.replication))
            dur = float(rng.exponential(cfg.partition_mean_s)) if kind == "networkPartition" else 0.0
            events.append(Event(t, kind, replica, dur))
    return sorted(events, key=lambda e: e.t)


def expected_failures(cfg: ChaosConfig) -> dict[str, float]:
    """Expected count of each failure kind over the simulated period."""
    return {k: min(1.0, s.probability * cfg.intensity) * (cfg.duration_s // s.interval_s)
            for k, s in cfg.failures.items()}


# ------------------------------------------------------------------------------------------ cluster
@dataclass
class Replica:
    rid: int
    graph: HnswReplica
    alive: bool = True
    partitioned: bool = False
    applied: int = 0  # catalog log entries applied
    recall: float = 1.0
    service_s: float = 1e-4
    unreachable: int = 0
    busy: bool = False  # a repair is in flight
    rebuilt_at_version: int = 0
    history: list[tuple[int, float]] = field(default_factory=list)  # (churn items since rebuild, recall)

    @property
    def serving(self) -> bool:
        return self.alive and not self.partitioned


class Cluster:
    """Replicas + catalog + the measurements and timeline the policies and the report read."""

    def __init__(self, cfg: ChaosConfig, env: simpy.Environment, catalog: Catalog, base: HnswReplica,
                 costs: dict[str, float], builds: "BuildCache | None" = None):
        self.cfg, self.env, self.catalog, self.costs = cfg, env, catalog, costs
        self.builds = builds or BuildCache(cfg, catalog)
        graph, _ = base.clone()
        self.replicas = [Replica(r, graph) for r in range(cfg.replication)]  # identical copies: shared (COW)
        self.service_s = costs["service_s"]  # calibrated once (median of repeats): the queue model's service time
        self.measure(self.replicas[0])
        for rep in self.replicas[1:]:
            rep.recall, rep.service_s, rep.unreachable = (self.replicas[0].recall, self.replicas[0].service_s,
                                                          self.replicas[0].unreachable)
        self.capacity_qps = cfg.replication / self.service_s
        self.load_qps = cfg.utilization * self.capacity_qps
        self.timeline: list[dict[str, Any]] = []
        self.compute_s: dict[str, float] = {}
        self.ops: dict[str, int] = {}
        self.incidents: list[dict[str, Any]] = []  # replica-level: kind, replica, start, end, auto
        self._open: dict[int, dict[str, Any]] = {}
        self.manual_fix: set[int] = set()  # replicas whose last fix was done by hand (policy 'none')
        self.changed = env.event()
        self.record()

    # -------------------------------------------------------------- measurement
    def measure(self, rep: Replica) -> None:
        """Recall@k vs exact truth, mean service time, unreachable nodes — on the real index."""
        truth = self.catalog.truth()
        labels, per_query = rep.graph.search(self.catalog.probes, self.catalog.k)
        hits = [len(set(a.tolist()) & set(b.tolist())) for a, b in zip(labels, truth)]
        rep.recall = float(np.mean(hits)) / self.catalog.k
        rep.service_s = per_query
        rep.unreachable = rep.graph.unreachable()

    def churn_since_rebuild(self, rep: Replica) -> int:
        return int(sum(len(self.catalog.log[v][0]) for v in range(rep.rebuilt_at_version, rep.applied)))

    def status(self) -> dict[str, Any]:
        serving = [r for r in self.replicas if r.serving]
        if not serving:
            return {"up": False, "recall": 0.0, "p99_ms": math.inf, "serving": 0}
        lam = self.load_qps / len(serving)
        mu = 1.0 / self.service_s
        p99 = math.inf if lam >= mu else math.log(100.0) / (mu - lam) * 1000.0
        recall = float(np.mean([r.recall for r in serving]))
        up = recall >= self.cfg.recall_target and p99 <= self.cfg.p99_ms
        return {"up": up, "recall": recall, "p99_ms": p99, "serving": len(serving)}

    def _track_incidents(self) -> None:
        """Replica-level incidents: dead, or alive with recall below target. Closed when healthy again."""
        now = float(self.env.now)
        for rep in self.replicas:
            bad = "nodeFailure" if not rep.alive else ("degraded" if rep.recall < self.cfg.recall_target else None)
            cur = self._open.get(rep.rid)
            if cur is not None and cur["kind"] != bad:
                cur["end"] = now
                cur["auto"] = rep.rid not in self.manual_fix
                self.manual_fix.discard(rep.rid)
                del self._open[rep.rid]
                cur = None
            if bad is not None and cur is None:
                self._open[rep.rid] = {"kind": bad, "replica": rep.rid, "start": now, "end": None}
                self.incidents.append(self._open[rep.rid])

    def record(self) -> None:
        self._track_incidents()
        st = self.status()
        st["t"] = float(self.env.now)
        st["min_replica_recall"] = float(min(r.recall for r in self.replicas))
        st["unreachable"] = int(max(r.unreachable for r in self.replicas))
        self.timeline.append(st)
        old, self.changed = self.changed, self.env.event()
        old.succeed()

    def spend(self, op: str, seconds: float) -> None:
        self.compute_s[op] = self.compute_s.get(op, 0.0) + seconds
        self.ops[op] = self.ops.get(op, 0) + 1

    # -------------------------------------------------------------- state changes
    def detach(self, group: list[Replica]) -> None:
        """Copy-on-write: replicas in the same state share one index object (they would hold identical
        copies); before `group` changes it, live replicas outside the group get their own copy."""
        graph = group[0].graph
        others = [r for r in self.replicas if r.graph is graph and r not in group and r.alive]
        if others:
            copy_, _ = graph.clone()
            for r in others:
                r.graph = copy_

    def catch_up(self, rep: Replica | list[Replica]) -> float:
        """Replay missed catalog updates (real churn on the index); returns items replayed. A list of replicas
        sharing one index object replays once for all."""
        group = rep if isinstance(rep, list) else [rep]
        lead = group[0]
        if lead.applied >= self.catalog.version:
            return 0
        self.detach(group)
        items = 0
        while lead.applied < self.catalog.version:
            deleted, labels, vectors = self.catalog.log[lead.applied]
            lead.graph.churn(deleted, labels, vectors)
            items += len(labels)
            lead.applied += 1
        for r in group[1:]:
            r.applied = lead.applied
        return items

    def catch_up_cost(self, items: int) -> float:
        """Simulated seconds of replaying `items` churned items (measured per-item cost)."""
        return items * self.costs["churn_per_item_s"]

    def apply_update(self, fraction: float) -> None:
        self.catalog.churn(fraction)
        groups: dict[int, list[Replica]] = {}
        for rep in self.replicas:
            if rep.serving:
                groups.setdefault(id(rep.graph), []).append(rep)
        for group in groups.values():
            self.catch_up(group)  # serving path cost of a catalog update, not a repair
            self.measure(group[0])
            for rep in group:
                rep.recall, rep.service_s, rep.unreachable = group[0].recall, group[0].service_s, group[0].unreachable
                rep.history.append((self.churn_since_rebuild(rep), rep.recall))
        for rep in self.replicas:
            if rep.alive and not rep.serving:
                self.measure(rep)
        self.record()


# ------------------------------------------------------------------------------------------ running
class BuildCache:
    """Fresh indexes per catalog version. A build is deterministic (one thread, fixed seed), so a rebuild of
    version v is built once and handed out as copies to every replica and policy run that rebuilds at v;
    the simulated clock and the compute account are charged the measured `rebuild_s` every time."""

    def __init__(self, cfg: ChaosConfig, catalog: Catalog):
        self.cfg = cfg
        self.built: dict[int, HnswReplica] = {}

    def get(self, catalog: Catalog) -> HnswReplica:
        v = catalog.version
        if v not in self.built:
            graph = HnswReplica(self.cfg.hnsw, self.cfg.dim, self.cfg.catalog_size, seed=self.cfg.seed)
            graph.build(catalog.labels, catalog.vectors)
            self.built[v] = graph
        return self.built[v].clone()[0]


def build_base(cfg: ChaosConfig) -> tuple[Catalog, HnswReplica, float]:
    """Seeded catalog and the initial index (built once, cloned into each replica and each policy run)."""
    catalog = Catalog(cfg, np.random.default_rng(cfg.seed))
    base = HnswReplica(cfg.hnsw, cfg.dim, cfg.catalog_size, seed=cfg.seed)
    build_s = base.build(catalog.labels, catalog.vectors)
    return catalog, base, build_s


def measure_service(cfg: ChaosConfig, catalog: Catalog, base: HnswReplica, repeats: int = 5) -> float:
    """Median seconds per query (one thread) of the healthy index: the service time of the queue model."""
    return float(np.median([base.search(catalog.probes, cfg.k)[1] for _ in range(repeats)]))


def run_policy(cfg: ChaosConfig, trace: list[Event], policy: Any, costs: dict[str, float],
               shared: tuple[Catalog, HnswReplica, BuildCache] | None = None) -> dict[str, Any]:
    """Simulate one repair policy over the trace; returns timeline, incidents and compute spent.
    `shared` = (pristine catalog, initial index, build cache) from `compare`, reused by every policy run."""
    if shared is None:
        catalog, base, _ = build_base(cfg)
        builds = BuildCache(cfg, catalog)
    else:
        catalog, base, builds = shared[0].fork(), shared[1], shared[2]  # same catalog and churn draws
    env = simpy.Environment()
    cluster = Cluster(cfg, env, catalog, base, costs, builds)

    def injector():
        for ev in trace:
            yield env.timeout(max(0.0, ev.t - env.now))
            if ev.kind == "update":
                cluster.apply_update(cfg.daily_churn)
            elif ev.kind == "graphFragmentation":
                cluster.apply_update(cfg.fragmentation_churn)
            elif ev.kind == "nodeFailure":
                rep = cluster.replicas[ev.replica]
                if rep.alive:
                    rep.alive = False
                    cluster.record()
            elif ev.kind == "networkPartition":
                rep = cluster.replicas[ev.replica]
                if not rep.partitioned:
                    rep.partitioned = True
                    cluster.record()
                    env.process(heal_partition(rep, ev.duration))

    def heal_partition(rep: Replica, duration: float):
        yield env.timeout(duration)
        rep.partitioned = False
        if rep.alive:
            spent = cluster.catch_up_cost(cluster.catch_up(rep))
            cluster.spend("catch_up", spent)
            yield env.timeout(spent)
            cluster.measure(rep)
        cluster.record()

    env.process(injector())
    policy.start(env, cluster, costs)
    env.run(until=cfg.duration_s)
    cluster.record()
    return summarize(cluster, policy.name)


def summarize(cluster: Cluster, name: str) -> dict[str, Any]:
    """SLO uptime, incidents (cluster-level outages) and their mean duration, replica repair times."""
    tl = cluster.timeline
    end = cluster.cfg.duration_s
    up_time, outages, start = 0.0, [], None
    for a, b in zip(tl, tl[1:] + [{"t": end}]):
        span = max(0.0, min(b["t"], end) - a["t"])
        if a["up"]:
            up_time += span
            if start is not None:
                outages.append(a["t"] - start)
                start = None
        elif start is None:
            start = a["t"]
    if start is not None:
        outages.append(end - start)
    repaired = [i for i in cluster.incidents if i["end"] is not None]
    return {
        "policy": name,
        "uptime": up_time / end,
        "downtime_s": end - up_time,
        "outages": len(outages),
        "mttr_s": float(np.mean(outages)) if outages else 0.0,
        "replica_incidents": len(cluster.incidents),
        "replica_repairs": len(repaired),
        "replica_mttr_s": float(np.mean([i["end"] - i["start"] for i in repaired])) if repaired else None,
        "auto_repaired": sum(1 for i in repaired if i.get("auto")),
        "repair_compute_s": float(sum(cluster.compute_s.values())),
        "compute_by_op_s": dict(cluster.compute_s),
        "ops": dict(cluster.ops),
        "load_qps": cluster.load_qps,
        "timeline": tl,
        "incidents": cluster.incidents,
    }
