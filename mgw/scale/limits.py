"""Where one machine ends: the largest catalog a 2-core / 24 GB machine serves within the seed's targets
(§5.1: vector search p95 < 200 µs, GNN reranking p50 < 5 ms, hypergraph query p95 < 20 ms), per ANN backend, and the
memory wall. Every limit comes from a fitted power law, so it is labelled `extrapolated` whenever it lies
outside the measured sizes. A curve that does not grow never binds (None)."""
from __future__ import annotations

import re
from typing import Any

import numpy as np

from mgw.scale.fit import PowerLaw



def _target(claim_id: str) -> float:
    """The number of a §5.1 claim's target ('< 200 µs' → 200.0), read from mgw/claims.py (the single source)."""
    from mgw import claims

    return float(re.search(r"[\d.]+", claims.get(claim_id).target).group())


TARGETS = {"search_p95_us": _target("s5.1-search-p95"), "search_p50_us": _target("s5.1-search-p50"),
           "rerank_p50_ms": _target("s5.1-rerank"), "hypergraph_p95_ms": _target("s5.1-hypergraph")}
MEMORY_WALL_BYTES = 24 * 1024 ** 3
CAP = 1e10  # beyond this a limit is reported as "not binding"


def crossing(fit: PowerLaw | None, target: float) -> dict[str, Any] | None:
    """n where the fitted curve reaches target; None when it never does (flat or falling curve)."""
    if fit is None or fit.exponent <= 1e-3:
        return None
    n = fit.solve(target)
    if n is None or n > CAP:
        return None
    return {"n": int(n), "extrapolated": not (fit.n_min <= n <= fit.n_max)}


def memory_crossing(fits: list[PowerLaw], wall: float = MEMORY_WALL_BYTES) -> dict[str, Any] | None:
    """n where the summed memory curves reach the wall (bisection on log n)."""
    fits = [f for f in fits if f is not None]
    if not fits:
        return None

    def total(n: float) -> float:
        return float(sum(f.predict(n) for f in fits))

    lo, hi = 1.0, CAP
    if total(hi) < wall:
        return None
    for _ in range(200):
        mid = np.sqrt(lo * hi)
        lo, hi = (mid, hi) if total(mid) < wall else (lo, mid)
    n_min, n_max = min(f.n_min for f in fits), max(f.n_max for f in fits)
    return {"n": int(lo), "extrapolated": not (n_min <= lo <= n_max)}


def one_machine(fits: dict[str, PowerLaw | None], backends: list[str], meets_recall: dict[str, bool],
                recall: dict[str, float]) -> dict[str, Any]:
    """Per backend: each constraint's crossing, the binding one, and the largest catalog (min over them).

    `fits` keys: `index.<backend>.p95_us`, `index.<backend>.p50_us`, `index.<backend>.rss_delta_bytes`,
    `gat.rerank_p50_ms` (the percentile claims.py's s5.1-rerank is measured at), `gat.rss_delta_bytes`,
    `hypergraph.query_p95_ms`, `hypergraph.rss_delta_bytes`.
    Memory = the index's build-time peak + the GAT item states + the hypergraph, all held by one server."""
    shared = {"rerank_p50_ms": crossing(fits.get("gat.rerank_p50_ms"), TARGETS["rerank_p50_ms"]),
              "hypergraph_p95_ms": crossing(fits.get("hypergraph.query_p95_ms"), TARGETS["hypergraph_p95_ms"])}
    out: dict[str, Any] = {}
    for b in backends:
        cons = {"search_p95_us": crossing(fits.get(f"index.{b}.p95_us"), TARGETS["search_p95_us"]),
                "search_p50_us": crossing(fits.get(f"index.{b}.p50_us"), TARGETS["search_p50_us"]),
                "memory_wall": memory_crossing([fits.get(f"index.{b}.rss_delta_bytes"),
                                                fits.get("gat.rss_delta_bytes"),
                                                fits.get("hypergraph.rss_delta_bytes")]),
                **shared}
        binding = [(v["n"], k) for k, v in cons.items() if v is not None]
        n, by = min(binding) if binding else (None, None)
        out[b] = {"max_titles": n, "binding": by, "extrapolated": bool(cons[by]["extrapolated"]) if by else None,
                  "constraints": cons, "meets_recall_target": meets_recall.get(b),
                  "recall_at_largest_n": recall.get(b)}
    return out
