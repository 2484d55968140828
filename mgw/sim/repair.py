"""Repair policies for the chaos simulation, and the measured costs of the operations they use.

Every policy sees the cluster only through health checks every `check_interval_s` (detection delay) and
repairs with real index operations whose wall time advances the simulated clock:
- restart a dead replica: process restart + index load (`restart_s`, timed once as a subprocess that imports
  hnswlib and loads a saved index) + re-sync from a healthy peer (serialize + load, timed on each repair) or a
  full rebuild when no peer is alive, then replay of missed catalog updates;
- rebuild a degraded replica: a fresh index over the current catalog, built beside the serving one and swapped
  in (timed on each repair); the old index keeps serving meanwhile.

Policies: `none` (an operator restarts dead replicas after `manual_recovery_s`; nothing watches recall),
`reactive` (restart dead, rebuild when recall < target), `threshold` (rebuild when recall < a higher
threshold), `periodic` (reactive + rebuild every `period_s`), `mpc` (reactive + receding-horizon plan: fit
recall vs churn since the last rebuild, forecast it over the scheduled catalog updates of the next
`horizon` steps of `step_s`, and rebuild now only when that is the cheapest plan).
"""
from __future__ import annotations

import math
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from mgw import claims as seed_claims
from mgw.sim.chaos import ChaosConfig, Cluster, Replica
from mgw.sim.graph import HnswReplica


# ------------------------------------------------------------------------------------------ costs
def measure_costs(cfg: ChaosConfig, catalog: Any, base: HnswReplica, repeats: int = 5) -> dict[str, float]:
    """Median CPU seconds of a rebuild, a peer re-sync (serialize + load), churn per item, and a process
    restart + index load; measured once per comparison and charged for every repair of that kind.

    CPU time (this thread; the child process for a restart), not wall time: on a shared machine wall time
    mostly measures the neighbours, while a repair on a serving node costs its CPU time. Wall medians are
    recorded beside (`*_wall_s`)."""
    ops: dict[str, list[tuple[float, float]]] = {"rebuild_s": [], "resync_s": [], "churn_per_item_s": []}

    def timed(key: str, fn, per: int = 1):
        c0, w0 = time.thread_time(), time.perf_counter()
        out = fn()
        ops[key].append(((time.thread_time() - c0) / per, (time.perf_counter() - w0) / per))
        return out

    n = max(1, cfg.catalog_size // 50)
    rows = np.arange(n)
    for _ in range(repeats):
        tmp = HnswReplica(cfg.hnsw, cfg.dim, cfg.catalog_size, seed=cfg.seed)
        timed("rebuild_s", lambda: tmp.build(catalog.labels, catalog.vectors))
        copy, _ = timed("resync_s", base.clone)
        timed("churn_per_item_s", lambda: copy.churn(catalog.labels[rows], np.arange(10**9, 10**9 + n),
                                                     catalog.vectors[rows]), per=n)
    from mgw.sim.chaos import measure_service

    costs = {"service_s": measure_service(cfg, catalog, base)}
    for key, vals in ops.items():
        costs[key] = float(np.median([c for c, _ in vals]))
        costs[key[:-2] + "_wall_s"] = float(np.median([w for _, w in vals]))
    if cfg.restart_s is not None:
        costs["restart_s"] = float(cfg.restart_s)
    else:
        costs["restart_s"], costs["restart_wall_s"] = measure_restart(base)
    return costs


def measure_restart(base: HnswReplica) -> tuple[float, float]:
    """(CPU, wall) seconds for a fresh Python process to import hnswlib and load the saved index (a replica
    restart); CPU = the child's user + system time."""
    import resource

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "replica.bin"
        base.index.save_index(str(path))
        code = ("import hnswlib; i = hnswlib.Index(space='cosine', dim=%d); i.load_index(%r, allow_replace_deleted=True)"
                % (base.dim, str(path)))
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)
        wall = time.perf_counter() - t0
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), wall


# ------------------------------------------------------------------------------------------ policies
class Policy:
    """Watches health checks and launches repairs. Subclasses override `check` (and `start` for timers)."""

    name = "base"

    def __init__(self, cfg: ChaosConfig):
        self.cfg = cfg

    def start(self, env, cluster: Cluster, costs: dict[str, float]) -> None:
        self.env, self.cluster, self.costs = env, cluster, costs
        env.process(self._watch())

    def _watch(self):
        ci = self.cfg.check_interval_s
        while True:
            yield self.cluster.changed
            now = self.env.now
            yield self.env.timeout((math.floor(now / ci) + 1) * ci - now)  # next scrape sees it
            self.check()

    def check(self) -> None:
        for rep in self.cluster.replicas:
            if not rep.alive and not rep.busy:
                self.launch(self._restart(rep))
            elif rep.serving and not rep.busy and rep.recall < self.rebuild_below() and self.stale(rep):
                self.launch(self._rebuild(rep))

    def stale(self, rep: Replica) -> bool:
        """A rebuild helps only if the catalog changed since the last one (else it would loop forever)."""
        return rep.rebuilt_at_version < self.cluster.catalog.version

    def rebuild_below(self) -> float:
        return self.cfg.recall_target

    def launch(self, gen) -> None:
        self.env.process(gen)

    # -------------------------------------------------------------- repair operations (real)
    def _restart(self, rep: Replica, delay: float = 0.0, manual: bool = False):
        """Restart + load, then re-sync the index from the most up-to-date live peer (its state when the
        transfer completes) or, with no live peer, rebuild from the catalog. Times: measured costs."""
        rep.busy = True
        if delay:
            yield self.env.timeout(delay)
        has_peer = any(p.alive for p in self.cluster.replicas if p is not rep)
        op = "resync" if has_peer else "rebuild"
        spent = self.costs["resync_s" if has_peer else "rebuild_s"]
        self.cluster.spend(op, spent)
        restart = self.costs["restart_s"]
        self.cluster.spend("restart", restart)
        yield self.env.timeout(restart + spent)
        peers = [p for p in self.cluster.replicas if p.alive and p is not rep]
        if peers:
            peer = max(peers, key=lambda p: (p.applied, p.recall))
            rep.graph = peer.graph  # an identical copy: shared until one of them changes (copy-on-write)
            rep.applied, rep.rebuilt_at_version, rep.history = peer.applied, peer.rebuilt_at_version, list(peer.history)
        else:
            rep.graph = self.cluster.builds.get(self.cluster.catalog)
            rep.applied = rep.rebuilt_at_version = self.cluster.catalog.version
            rep.history = []
        if not rep.partitioned:
            self.cluster.spend("catch_up", self.cluster.catch_up_cost(self.cluster.catch_up(rep)))
        self.cluster.measure(rep)
        rep.alive, rep.busy = True, False
        if manual:
            self.cluster.manual_fix.add(rep.rid)
        self.cluster.record()

    def _rebuild(self, rep: Replica):
        rep.busy = True
        catalog = self.cluster.catalog
        version = catalog.version
        graph = self.cluster.builds.get(catalog)  # the index of this version (built once; measured cost below)
        spent = self.costs["rebuild_s"]
        self.cluster.spend("rebuild", spent)
        yield self.env.timeout(spent)
        rep.busy = False
        if not rep.alive:  # died meanwhile: the restart path takes over
            self.cluster.record()
            return
        rep.graph, rep.applied, rep.rebuilt_at_version = graph, version, version
        if not rep.partitioned:
            self.cluster.spend("catch_up", self.cluster.catch_up_cost(self.cluster.catch_up(rep)))
        self.cluster.measure(rep)
        rep.history = [(0, rep.recall)]
        self.cluster.record()


class NoRepair(Policy):
    """No self-healing: an operator restarts dead replicas after `manual_recovery_s`; recall is not watched."""

    name = "none"

    def check(self) -> None:
        for rep in self.cluster.replicas:
            if not rep.alive and not rep.busy:
                self.launch(self._restart(rep, delay=self.cfg.manual_recovery_s, manual=True))


class Reactive(Policy):
    name = "reactive"


class Threshold(Policy):
    """Rebuild as soon as a replica's recall drops below `threshold` (> SLO target: acts before the breach)."""

    name = "threshold"

    def __init__(self, cfg: ChaosConfig, threshold: float = 0.965):
        super().__init__(cfg)
        self.threshold = threshold

    def rebuild_below(self) -> float:
        return max(self.threshold, self.cfg.recall_target)


class Periodic(Policy):
    """Reactive, plus a rebuild of every replica each `period_s` (staggered so one rebuilds at a time)."""

    name = "periodic"

    def __init__(self, cfg: ChaosConfig, period_s: float = 86_400.0):
        super().__init__(cfg)
        self.period_s = period_s

    def start(self, env, cluster, costs) -> None:
        super().start(env, cluster, costs)
        env.process(self._timer())

    def _timer(self):
        while True:
            yield self.env.timeout(self.period_s)
            for rep in self.cluster.replicas:
                if rep.serving and not rep.busy and self.stale(rep):
                    yield self.env.process(self._rebuild(rep))


class MPC(Policy):
    """Reactive, plus model-predictive rebuilds every `step_s` over a `horizon`-step forecast.

    Model: recall falls linearly with the share of the catalog churned since the last rebuild (slope fitted
    per replica by least squares; before two points exist, the mean slope of earlier fits). Disturbance: the
    scheduled catalog updates (`daily_churn` every `update_interval_s`) inside the horizon. Plans: rebuild at
    step s (s = 0..horizon-1) or not at all; cost = predicted seconds below `recall_target + margin` ×
    `violation_weight` + rebuild seconds. The cheapest plan wins (ties → later); only a plan that rebuilds
    at step 0 acts now, the rest is re-planned next step (receding horizon)."""

    name = "mpc"

    def __init__(self, cfg: ChaosConfig, horizon: int = 10, step_s: float = 3600.0, margin: float = 0.005,
                 violation_weight: float = 100.0):
        super().__init__(cfg)
        self.horizon, self.step_s, self.margin, self.violation_weight = horizon, step_s, margin, violation_weight
        self.slopes: list[float] = []
        self.plans = 0
        self.predicted_rebuilds = 0

    def start(self, env, cluster, costs) -> None:
        super().start(env, cluster, costs)
        env.process(self._timer())

    def _timer(self):
        while True:
            yield self.env.timeout(self.step_s)
            for rep in self.cluster.replicas:
                if rep.serving and not rep.busy and self.stale(rep) and self.plan(rep) == 0:
                    self.predicted_rebuilds += 1
                    self.launch(self._rebuild(rep))

    def slope(self, rep: Replica) -> float | None:
        pts = np.array(rep.history, dtype=float) if rep.history else np.empty((0, 2))
        if len(pts) >= 2 and np.ptp(pts[:, 0]) > 0:
            x = pts[:, 0] / self.cfg.catalog_size
            b = float(np.polyfit(x, pts[:, 1], 1)[0])
            b = min(b, 0.0)
            if len(self.slopes) < 1000:
                self.slopes.append(b)
            return b
        return float(np.mean(self.slopes)) if self.slopes else None

    def forecast(self, rep: Replica, rebuild_step: int | None, b: float) -> np.ndarray:
        """Predicted recall during each of the next `horizon` steps under one plan."""
        now = self.env.now
        ui = self.cfg.update_interval_s
        fresh = rep.history[0][1] if rep.history and rep.history[0][0] == 0 else rep.recall
        out = np.empty(self.horizon)
        for i in range(self.horizon):
            end = now + (i + 1) * self.step_s
            if rebuild_step is not None and i >= rebuild_step:
                since = now + rebuild_step * self.step_s
                base, start = fresh, since
            else:
                base, start = rep.recall, now
            n_updates = max(0, math.floor(end / ui) - math.floor(start / ui))
            out[i] = base + b * self.cfg.daily_churn * n_updates
        return out

    def plan(self, rep: Replica) -> int | None:
        """Best rebuild step (0 = now) or None (no rebuild in the horizon)."""
        self.plans += 1
        b = self.slope(rep)
        if b is None:
            return None
        bar = self.cfg.recall_target + self.margin
        best, best_cost = None, math.inf
        for s in [None] + list(range(self.horizon - 1, -1, -1)):  # ties favour not rebuilding, then later
            pred = self.forecast(rep, s, b)
            cost = float((pred < bar).sum()) * self.step_s * self.violation_weight
            if s is not None:
                cost += self.costs["rebuild_s"]
            if cost < best_cost - 1e-12:
                best, best_cost = s, cost
        return best


POLICIES = {"none": NoRepair, "reactive": Reactive, "threshold": Threshold, "periodic": Periodic, "mpc": MPC}


def make_policy(name: str, cfg: ChaosConfig, **kw: Any) -> Policy:
    from mgw.errors import DataError

    if name not in POLICIES:
        raise DataError(f"unknown repair policy {name!r} (known: {', '.join(POLICIES)})")
    return POLICIES[name](cfg, **kw)


# ------------------------------------------------------------------------------------------ comparison
#: the seed's availability figures this comparison is judged against (defined in mgw/claims.py)
AVAILABILITY_CLAIMS = {key: {"value": seed_claims.value(cid), "source": f"seed {seed_claims.get(cid).section} "
                     f"{seed_claims.get(cid).what} {seed_claims.get(cid).stated()}"}
               for key, cid in (("uptime", "s5.3-uptime"), ("self_healing_success", "s5.3-self-healing"),
                                ("mttr_s", "s5.3-mttr"), ("avg_recovery_ms", "s1.4.3-recovery"))}


def compare(cfg: ChaosConfig, policies: dict[str, dict[str, Any]] | None = None,
            progress: bool = False) -> dict[str, Any]:
    """Run every policy on the same failure trace; add degradation prevented (vs 'none') and healing success.

    degradation_prevented = 1 − (SLO-violating time under the policy) / (SLO-violating time under 'none').
    self_healing_success = share of replica incidents (dead, or recall < target) repaired automatically
    within `healing_deadline_s` (seed: MTTR < 1 minute)."""
    from mgw.sim.chaos import build_base, expected_failures, make_trace, run_policy

    policies = policies or {name: {} for name in POLICIES}
    if "none" not in policies:
        policies = {"none": {}, **policies}
    from mgw.sim.chaos import BuildCache

    catalog, base, build_s = build_base(cfg)
    costs = measure_costs(cfg, catalog, base)
    trace = make_trace(cfg)
    shared = (catalog, base, BuildCache(cfg, catalog))
    results: dict[str, dict[str, Any]] = {}
    names = list(policies)
    if progress:
        from tqdm import tqdm

        names = tqdm(names, desc="policies")
    for name in names:
        policy = make_policy(name, cfg, **policies[name])
        res = run_policy(cfg, trace, policy, costs, shared)
        if isinstance(policy, MPC):
            res["mpc"] = {"plans": policy.plans, "predictive_rebuilds": policy.predicted_rebuilds,
                          "horizon": policy.horizon, "step_s": policy.step_s}
        results[name] = res
    fresh = {v: _recall(g, catalog, v) for v, g in sorted(shared[2].built.items()) if v in catalog._truths}
    fresh[0] = _recall(base, catalog, 0)
    none_down = results["none"]["downtime_s"]
    deadline = 60.0
    for res in results.values():
        res["degradation_prevented"] = (1.0 - res["downtime_s"] / none_down) if none_down > 0 else None
        inc = res["incidents"]
        ok = [i for i in inc if i["end"] is not None and i.get("auto") and i["end"] - i["start"] <= deadline]
        res["self_healing_success"] = (len(ok) / len(inc)) if inc else None
    counts: dict[str, int] = {}
    for ev in trace:
        counts[ev.kind] = counts.get(ev.kind, 0) + 1
    return {"costs": costs, "initial_build_s": build_s, "trace_counts": counts,
            "fresh_recall": {"initial": fresh[0], "min": min(fresh.values()), "max": max(fresh.values()),
                             "versions": len(fresh), "target": cfg.recall_target},
            "expected_failures": expected_failures(cfg), "healing_deadline_s": deadline,
            "policies": results, "claims": AVAILABILITY_CLAIMS}


def _recall(graph: HnswReplica, catalog: Any, version: int) -> float:
    """Recall@k of a freshly built index of catalog `version` (ground truth from the shared cache)."""
    truth = catalog._truths[version]  # cached when that version was measured
    labels, _ = graph.search(catalog.probes, catalog.k)
    return float(np.mean([len(set(a) & set(b)) for a, b in zip(labels.tolist(), truth.tolist())])) / catalog.k
