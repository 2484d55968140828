"""The seed's figures, defined once. Every number the seed states in §1.1, §1.1.3, §1.4, §2.1.3 and §5 (and its
executive summary) is a `Claim` here: where it is stated, its unit, which result file and key measure it, and the
rule that turns a measurement into a verdict. Code, notebooks, `mgw claims` and reports/index.html read this table;
nothing else types a seed figure. A figure that cannot be measured on this workbench says why (`unmeasurable`).
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from mgw.config import ROOT

REPORTS = ROOT / "reports"
MET, NOT_MET, UNMEASURABLE, NOT_RUN = "met", "not met", "not measurable here", "not measured in this run"

Rule = Literal["lower", "higher", "range"]


@dataclass(frozen=True)
class Claim:
    """One seed figure. `keys` are dotted paths into `source` (a JSON file under reports/), tried in order; a `*`
    step expands to every entry (e.g. every benchmark dataset) and the verdict must hold for all of them.
    `scale` converts the measured unit to the claim's unit."""

    id: str
    section: str
    what: str
    value: float | None
    unit: str
    rule: Rule = "lower"
    source: str = ""
    keys: tuple[str, ...] = ()
    report: str = ""
    stage: str = ""  # the DVC stage that writes `source`
    lo: float | None = None  # range rule bounds (seed's expectedResults)
    hi: float | None = None
    target: str = ""  # the seed's own target next to its "measured" figure (§5 tables)
    scale: float = 1.0
    unmeasurable: str = ""
    note: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def stated(self) -> str:
        """The figure as the seed states it."""
        if self.rule == "range" and (self.lo is not None or self.hi is not None):
            lo = "" if self.lo is None else _num(self.lo)
            hi = "" if self.hi is None else _num(self.hi)
            return f"[{lo}, {hi}] {self.unit}".strip()
        if self.value is None:
            return "—"
        sign = "" if self.unmeasurable else {"lower": "≤", "higher": "≥"}.get(self.rule, "")
        return f"{sign} {_num(self.value)} {self.unit}".strip()

    def holds(self, measured: float) -> bool:
        """The verdict rule: at or below (lower), at or above (higher), inside [lo, hi] (range)."""
        if self.rule == "range":
            return (self.lo is None or measured >= self.lo) and (self.hi is None or measured <= self.hi)
        if self.value is None:
            raise ValueError(f"claim {self.id} has no value")
        return measured <= self.value if self.rule == "lower" else measured >= self.value


def _num(v: float) -> str:
    if isinstance(v, float) and v.is_integer() and abs(v) >= 10:
        return f"{int(v):,}"
    return f"{v:,.4g}" if abs(v) >= 1000 else f"{v:.4g}"


_B = dict(source="metrics/bench.json", report="02_ann_benchmark.html", stage="bench")
_SD = "hnswlib M=32, efConstruction=200, efSearch=100, 1 thread, every benchmark dataset"
_CDP = dict(source="scenarios/content-discovery-performance.json", report="09_simulation.html", stage="scenarios")
_MPA = dict(source="scenarios/multi-platform-availability.json", report="09_simulation.html", stage="scenarios")
_SHR = dict(source="scenarios/self-healing-resilience.json", report="09_simulation.html", stage="scenarios")
_CH = dict(source="metrics/chaos.json", report="09_simulation.html", stage="chaos")
_HG = dict(source="metrics/hypergraph.json", report="06_hypergraph_search.html", stage="hypergraph")
_CA = dict(source="metrics/cache.json", report="08_cache.html", stage="cache")
_RR = dict(source="metrics/rerank.json", report="04_reranker.html", stage="train")
_CONFIG = "a configuration value, not a measurement; mgw's default params use it"

CLAIMS: tuple[Claim, ...] = (
    # ---- executive summary
    Claim("exec-sub100us", "Executive summary", "vector search latency sub-100 µs (p50)", 100.0, "µs", "lower",
          keys=("seed_default.*.p50_us",), note=_SD, **_B),
    Claim("exec-8x", "Executive summary", "8.2× faster than alternatives", 8.2, "×", "higher",
          unmeasurable="the seed names no alternative, workload or metric; the ANN report compares hnswlib, FAISS, "
                       "annoy and exact search side by side instead", report="02_ann_benchmark.html"),
    # ---- §1.1.1 vector database (RuVector default config)
    Claim("s1.1.1-p50", "§1.1.1", "search latency p50", 61.0, "µs", "lower", keys=("seed_default.*.p50_us",),
          note=_SD, **_B),
    Claim("s1.1.1-qps", "§1.1.1", "throughput", 16393.0, "QPS", "higher", keys=("seed_default.*.qps_single",),
          note=_SD, **_B),
    Claim("s1.1.1-recall", "§1.1.1", "recall@10", 0.968, "", "higher", keys=("seed_default.*.recall",), note=_SD, **_B),
    Claim("s1.1.1-memory", "§1.1.1", "memory per 100K vectors (384-d)", 151.0, "MB", "lower",
          keys=("seed_default.*.mb_per_100k",),
          note="impossible as stated: 100K × 384 float32 is 153.6 MB of raw vectors before any graph", **_B),
    # ---- §1.1.2 GNN
    Claim("s1.1.2-gnn-config", "§1.1.2", "GAT: 8 heads, 384 → 256, dropout 0.1", 8.0, "heads",
          unmeasurable=_CONFIG + " (params.yaml gnn.heads/inputDim/hiddenDim/dropout)", report="04_reranker.html"),
    Claim("s1.1.2-transfer", "§1.1.2", "transferability across genres", 0.91, "", "higher",
          keys=("transfer.transferability", "headline.transferability"),
          note="measured as NDCG@10 on held-out genres ÷ in-domain NDCG@10", **_RR),
    # ---- §1.1.3 hypergraph
    Claim("s1.1.3-compression", "§1.1.3", "compression vs pairwise edges", 3.7, "×", "higher",
          keys=("real.compression.availability.compression", "simulated.compression.availability.compression"),
          note="hyperedges vs the clique expansion of availability (platform × region)", **_HG),
    Claim("s1.1.3-query", "§1.1.3", "hypergraph (Cypher) query latency, sub-15 ms", 15.0, "ms", "lower",
          keys=("real.latency.store.p95_ms", "simulated.latency.store.p95_ms"),
          note="p95 of boolean availability queries on the bitmap store (no Cypher engine)", **_HG),
    # ---- §1.4.1 content discovery scenario
    Claim("s1.4.1-p50", "§1.4.1", "scenario latency p50", None, "µs", "range", lo=50.0, hi=70.0,
          keys=("metrics.latencyP50.mean",), note="scenario scaled by params sim.scale", **_CDP),
    Claim("s1.4.1-recall", "§1.4.1", "scenario recall@10", None, "", "range", lo=0.95, hi=1.0,
          keys=("metrics.recallAt10.mean",), **_CDP),
    Claim("s1.4.1-qps", "§1.4.1", "scenario throughput", None, "QPS", "range", lo=15000.0, hi=18000.0,
          keys=("metrics.throughput.mean",), **_CDP),
    Claim("s1.4.1-variance", "§1.4.1", "latency variance (CV) across iterations", 0.025, "", "lower",
          keys=("variance.latencyP50.cv",), **_CDP),
    Claim("s1.4.1-coherence", "§1.4.1", "coherence score", 0.95, "", "higher", keys=("coherence.score",), **_CDP),
    Claim("s1.4.1-100k", "§1.4.1", "61 µs across 100K titles: titles one machine serves", 100000.0, "titles", "higher",
          source="metrics/scale.json", keys=("headline.max_titles_one_machine.hnswlib",),
          report="11_scaling.html", stage="scale"),
    # ---- §1.4.2 multi-platform availability scenario
    Claim("s1.4.2-latency", "§1.4.2", "availability query latency", 15.0, "ms", "lower",
          keys=("metrics.queryLatency.mean",), **_MPA),
    Claim("s1.4.2-accuracy", "§1.4.2", "result accuracy", 0.90, "", "higher", keys=("metrics.resultAccuracy.mean",),
          **_MPA),
    Claim("s1.4.2-coverage", "§1.4.2", "platform coverage", 0.95, "", "higher", keys=("metrics.platformCoverage.mean",),
          **_MPA),
    # ---- §1.4.3 self-healing scenario
    Claim("s1.4.3-uptime", "§1.4.3", "uptime", 0.975, "", "higher", keys=("metrics.uptime.mean",), **_SHR),
    Claim("s1.4.3-degradation", "§1.4.3", "degradation prevented", 0.975, "", "higher",
          keys=("metrics.degradationPrevention.mean",), **_SHR),
    Claim("s1.4.3-recovery", "§1.4.3", "average recovery time", 100.0, "ms", "lower",
          keys=("metrics.avgRecoveryTime.mean",), **_SHR),
    # ---- §2.1.3 recommendation cache
    Claim("s2.1.3-hit-rate", "§2.1.3", "cache hit rate", 0.80, "", "higher",
          keys=("hit_rate.workloads.*.seed_config_hit_rate",),
          note="the seed's L1+L2 configuration on every simulated workload (Zipf α 0.6–1.4, MovieLens trace)", **_CA),
    Claim("s2.1.3-ttl", "§2.1.3", "TTL 60 s stats, 30 s patterns, 15 s searches", 60.0, "s max",
          unmeasurable=_CONFIG + " (params.yaml cache.ttl_classes)", report="08_cache.html"),
    Claim("s2.1.3-lru", "§2.1.3", "LRU eviction, 1,000 entries maximum", 1000.0, "entries",
          unmeasurable=_CONFIG + " (params.yaml cache.L1/L2 maxSize; the hit-ratio curves sweep the size)",
          report="08_cache.html"),
    # ---- §5.1 latency
    Claim("s5.1-search-p50", "§5.1", "vector search p50", 61.0, "µs", "lower", target="< 100 µs",
          keys=("seed_default.*.p50_us",), note=_SD, **_B),
    Claim("s5.1-search-p95", "§5.1", "vector search p95", 120.0, "µs", "lower", target="< 200 µs",
          keys=("seed_default.*.p95_us",), note=_SD, **_B),
    Claim("s5.1-rerank", "§5.1", "GNN reranking", 3.8, "ms", "lower", target="< 5 ms",
          keys=("headline.rerank_p50_ms", "latency.rerank_ms.p50"), note="p50, 100 candidates", **_RR),
    Claim("s5.1-hypergraph", "§5.1", "hypergraph query", 15.0, "ms", "lower", target="< 20 ms",
          keys=("real.latency.store.p95_ms", "simulated.latency.store.p95_ms"), note="p95, boolean queries", **_HG),
    Claim("s5.1-cache-hit", "§5.1", "cache hit", 2.0, "ms", "lower", target="< 5 ms",
          keys=("latency.L2_hit_redis.p50_ms", "latency.L2_hit_inprocess.p50_ms"),
          note="p50 of an L2 hit (Redis when installed, else in process)", **_CA),
    Claim("s5.1-cache-miss", "§5.1", "cache miss", 35.0, "ms", "lower", target="< 50 ms",
          keys=("latency.miss.p50_ms",), note="p50 of a miss through to search", **_CA),
    # ---- §5.2 throughput
    Claim("s5.2-qps", "§5.2", "queries per second", 16393.0, "QPS", "higher", target="> 10,000",
          keys=("seed_default.*.qps_single",), note=_SD, **_B),
    Claim("s5.2-batch-inserts", "§5.2", "batch inserts", 207731.0, "ops/s", "higher", target="> 100,000 ops/s",
          keys=("seed_default.*.insert_per_s",), note="hnswlib add_items, seed default config, 2 threads", **_B),
    Claim("s5.2-concurrent-users", "§5.2", "concurrent users", 75000.0, "users", "higher", target="> 50,000",
          source="metrics/serve.json", keys=("headline.sse_clients_held",), report="10_serving.html",
          stage="serve_bench", note="concurrent SSE clients held for 60 s with every stream complete"),
    Claim("s5.2-service-qps", "§5.2", "queries per second through the HTTP service", 16393.0, "QPS", "higher",
          target="> 10,000", source="metrics/serve.json", keys=("headline.max_qps",), report="10_serving.html",
          stage="serve_bench"),
    # ---- §5.3 availability
    Claim("s5.3-uptime", "§5.3", "uptime (30-day)", 0.997, "", "higher", target="> 99 %",
          keys=("policies.mpc.uptime",), note="SLO uptime under the MPC repair policy, simulated 30 days", **_CH),
    Claim("s5.3-self-healing", "§5.3", "self-healing success", 0.979, "", "higher", target="> 95 %",
          keys=("policies.mpc.self_healing_success",),
          note="called '97.9 % uptime' in the executive summary", **_CH),
    Claim("s5.3-mttr", "§5.3", "mean time to recovery", 43.0, "s", "lower", target="< 1 minute",
          keys=("policies.mpc.mttr_s",), **_CH),
)

BY_ID: dict[str, Claim] = {c.id: c for c in CLAIMS}
assert len(BY_ID) == len(CLAIMS), "claim ids must be unique"


def get(claim_id: str) -> Claim:
    """A claim by id (KeyError names the known ids)."""
    try:
        return BY_ID[claim_id]
    except KeyError:
        raise KeyError(f"unknown claim {claim_id!r} (known: {', '.join(BY_ID)})") from None


def value(claim_id: str) -> float:
    """The seed's figure of a claim: what code and notebooks use instead of typing it."""
    v = get(claim_id).value
    if v is None:
        raise ValueError(f"claim {claim_id} is a range: use .lo / .hi")
    return v


def expand(d: Any, path: str) -> list[tuple[str, Any]]:
    """Values at a dotted path; `*` expands to every key of a dict. Returns [(label, value)], label naming the
    `*` choices ('' when there is none)."""
    found: list[tuple[str, Any]] = [("", d)]
    for part in path.split("."):
        nxt: list[tuple[str, Any]] = []
        for label, cur in found:
            if part == "*" and isinstance(cur, dict):
                nxt += [(f"{label}/{k}" if label else str(k), v) for k, v in cur.items()]
            elif isinstance(cur, dict) and part in cur:
                nxt.append((label, cur[part]))
            elif isinstance(cur, list) and part.lstrip("-").isdigit() and -len(cur) <= int(part) < len(cur):
                nxt.append((label, cur[int(part)]))
        found = nxt
    return [(lb, v) for lb, v in found if isinstance(v, (int, float)) and not isinstance(v, bool)
            and math.isfinite(v)]


def _load(reports: Path, source: str, cache: dict[str, Any]) -> Any:
    if source not in cache:
        p = reports / source
        try:
            cache[source] = json.loads(p.read_text()) if p.exists() else None
        except (OSError, json.JSONDecodeError):
            cache[source] = None
    return cache[source]


def evaluate(claim: Claim, reports: Path = REPORTS, cache: dict[str, Any] | None = None) -> dict[str, Any]:
    """One table row: the seed figure, what was measured (per `*` entry), the machine, the verdict and why."""
    cache = {} if cache is None else cache
    row: dict[str, Any] = {"id": claim.id, "section": claim.section, "claim": claim.what, "seed": claim.stated(),
                           "target": claim.target, "measured": None, "values": {}, "machine": "", "verdict": NOT_RUN,
                           "reason": "", "report": claim.report, "source": claim.source, "key": "", "note": claim.note}
    if claim.unmeasurable:
        row.update(verdict=UNMEASURABLE, reason=claim.unmeasurable)
        return row
    data = _load(reports, claim.source, cache)
    if data is None:
        row["reason"] = f"reports/{claim.source} absent (DVC stage `{claim.stage}`)"
        return row
    for key in claim.keys:
        vals = expand(data, key)
        if vals:
            break
    else:
        row["reason"] = f"no value at {' or '.join(claim.keys)} in reports/{claim.source}"
        return row
    vals = [(lb, float(v) * claim.scale) for lb, v in vals]
    failing = [lb or "measured" for lb, v in vals if not claim.holds(v)]
    prov = (data.get("_provenance") or {}) if isinstance(data, dict) else {}
    mach = prov.get("machine") or {}
    row.update(key=key, values={lb or "value": v for lb, v in vals}, measured=_fmt_values(vals, claim.unit),
               machine=(f"{mach.get('cpu', '?')}, {mach.get('cores', '?')} cores"
                        + (f", load {prov['load_average_1m']:.1f}" if prov.get("load_average_1m") is not None else "")
                        if mach else ""),
               verdict=NOT_MET if failing else MET,
               reason=(f"fails on {', '.join(failing)}" if failing and any(lb for lb, _ in vals) else ""))
    return row


def _fmt_values(vals: list[tuple[str, float]], unit: str) -> str:
    parts = [f"{_num(v)}{(' ' + unit) if unit else ''}" + (f" ({lb})" if lb else "") for lb, v in vals]
    return "; ".join(parts)


def table(reports: Path = REPORTS) -> list[dict[str, Any]]:
    """Every claim evaluated against the result files under `reports`."""
    cache: dict[str, Any] = {}
    return [evaluate(c, reports, cache) for c in CLAIMS]


def counts(rows: list[dict[str, Any]]) -> dict[str, int]:
    out = {MET: 0, NOT_MET: 0, UNMEASURABLE: 0, NOT_RUN: 0}
    for r in rows:
        out[r["verdict"]] += 1
    return out
