"""The benchmark harness: owns timing (adapters never time themselves, as in ann-benchmarks).

One build per (dataset, backend, build params) serves a sweep of query params. For every point it
measures recall@10 (by id and with distance ties), per-query latency (perf_counter_ns), and QPS =
queries / wall time in three modes: `single` (one thread, one query at a time), `batch` (one call with
all queries on N threads), `clients` (N Python threads each issuing single queries). Warm-up first,
best of `runs`. At each build's default query params the same calls are timed directly on the raw
library object (same graph, same params) → mgw/raw ratios isolate the wrapper's overhead.
"""
from __future__ import annotations

import gc
import hashlib
import json
import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from mgw import claims as seed_claims
from mgw.bench.datasets import Dataset
from mgw.bench.metrics import latency_summary, recall_at_k, recall_with_ties
from mgw.index import BaseIndex, load_index, make_index


@dataclass
class Config:
    """One build of one backend plus the query-param sweep run against it."""

    backend: str
    build_params: dict[str, Any]
    query_grid: list[dict[str, Any]] = field(default_factory=lambda: [{}])
    default_query: dict[str, Any] = field(default_factory=dict)  # where raw ratios are measured

    @property
    def label(self) -> str:
        if self.backend == "faiss":
            return f"faiss {self.build_params['factory']}"
        params = ",".join(f"{k}={v}" for k, v in self.build_params.items())
        return f"{self.backend}({params})" if params else self.backend


EF_GRID = [10, 20, 40, 80, 100, 200, 400]


def default_configs(backends: list[str], n: int, grid: str = "small") -> list[Config]:
    """Build/query grids per backend. 'tiny' = one build each, 3 query points (notebook fallback, tests);
    'small' fits the CI/DVC budget; 'full' adds more builds. IVF nlist ≈ 4·√n, capped so every list gets
    ≥ 39 training points (faiss's minimum)."""
    nlist = int(2 ** np.floor(np.log2(max(min(4 * np.sqrt(n), n / 39), 4))))
    nprobe = [p for p in (1, 2, 4, 8, 16, 32, 64, 128) if p <= nlist]
    ann_k = [100, 500, 1000, 2000, 5000, 10000, 20000]
    if grid == "tiny":
        tiny = {"hnswlib": Config("hnswlib", {"M": 32, "efConstruction": 200},
                                  [{"efSearch": e} for e in (10, 40, 100)], {"efSearch": 100}),
                "faiss": Config("faiss", {"factory": "HNSW32,Flat", "efConstruction": 200},
                                [{"efSearch": e} for e in (10, 40, 100)], {"efSearch": 100}),
                "annoy": Config("annoy", {"n_trees": 50}, [{"search_k": s} for s in (500, 2000, 5000)],
                                {"search_k": 2000}),
                "exact": Config("exact", {}, [{}], {})}
        return [tiny[b] for b in backends]
    out: list[Config] = []
    for b in backends:
        if b == "hnswlib":
            builds = [(32, 200)] + ([(16, 200), (48, 400)] if grid == "full" else [(16, 100)])
            out += [Config("hnswlib", {"M": m, "efConstruction": efc}, [{"efSearch": e} for e in EF_GRID],
                           {"efSearch": 100}) for m, efc in builds]
        elif b == "faiss":
            hnsw = ["HNSW32,Flat", "HNSW32,SQ8"] + (["HNSW16,Flat"] if grid == "full" else [])
            out += [Config("faiss", {"factory": f, "efConstruction": 200}, [{"efSearch": e} for e in EF_GRID],
                           {"efSearch": 100}) for f in hnsw]
            ivf = [f"IVF{nlist},Flat", f"IVF{nlist},PQ48"] + ([f"IVF{nlist},SQ8"] if grid == "full" else [])
            out += [Config("faiss", {"factory": f}, [{"nprobe": p} for p in nprobe],
                           {"nprobe": min(16, nlist)}) for f in ivf]
        elif b == "annoy":
            trees = [100] + ([50, 200] if grid == "full" else [])
            out += [Config("annoy", {"n_trees": t}, [{"search_k": s} for s in ann_k], {"search_k": 2000})
                    for t in trees]
        elif b == "exact":
            out.append(Config("exact", {}, [{}], {}))
        else:
            raise ValueError(f"unknown backend {b!r} for the benchmark (hnswlib, faiss, annoy, exact)")
    return out


# --------------------------------------------------------------------------- builds (with cache)
def _rss() -> int:
    import psutil

    return psutil.Process().memory_info().rss


def build_key(ds: Dataset, cfg: Config, seed: int) -> str:
    src = json.dumps([ds.name, ds.attrs.get("source_sha256", ""), ds.attrs.get("seed"), len(ds.train),
                      cfg.backend, cfg.build_params, seed], sort_keys=True)
    return hashlib.sha256(src.encode()).hexdigest()[:16]


def get_or_build(ds: Dataset, cfg: Config, threads: int = 2, seed: int = 42, cache_dir: str | Path | None = None,
                 insert_fraction: float = 0.1) -> tuple[BaseIndex, dict[str, Any]]:
    """Index over ds.train (ids = str(row)) and its build measurements. The first (1 − insert_fraction)
    rows are built in one call (build time), the rest added incrementally (insert throughput) where the
    backend can add. With `cache_dir`, a saved index and its original measurements are reused."""
    path = Path(cache_dir) / ds.name / f"{cfg.backend}-{build_key(ds, cfg, seed)}" if cache_dir else None
    if path is not None and (path / "build_info.json").exists():
        info = json.loads((path / "build_info.json").read_text())
        return load_index(path / "index"), {**info, "cached": True}
    ids = [str(i) for i in range(len(ds.train))]
    index = make_index(cfg.backend, ds.dim, ds.metric, threads=threads, seed=seed, **cfg.build_params)
    n = len(ds.train)
    n_build = n if not index.capabilities()["add"] else max(1, int(round(n * (1 - insert_fraction))))
    gc.collect()
    rss0 = _rss()
    t0 = time.perf_counter()
    index.build(ds.train[:n_build], ids[:n_build])
    build_s = time.perf_counter() - t0
    add_s = None
    if n_build < n:
        t0 = time.perf_counter()
        index.add(ds.train[n_build:], ids[n_build:])
        add_s = time.perf_counter() - t0
    rss_delta = _rss() - rss0
    stats = index.stats()
    info = {"build_s": build_s, "n_build": n_build, "build_vectors_per_s": n_build / build_s,
            "n_insert": n - n_build, "insert_s": add_s,
            "insert_per_s": (n - n_build) / add_s if add_s else None,
            "rss_delta_bytes": rss_delta, "serialized_bytes": stats["serialized_bytes"],
            "bytes_per_vector": stats["bytes_per_vector"], "threads": threads, "cached": False}
    if path is not None:
        index.save(path / "index")
        (path / "build_info.json").write_text(json.dumps(info))
    return index, info


# --------------------------------------------------------------------------- timing
def measure_qps(search_one: Callable[[np.ndarray], Any] | None, queries: np.ndarray, mode: str = "single",
                runs: int = 3, threads: int = 2, search_batch: Callable[[np.ndarray], Any] | None = None,
                warmup: int = 50) -> dict[str, Any]:
    """Best-of-`runs` QPS (= queries / wall seconds) of one mode; 'single' also returns the per-query
    latencies (ns) of the best run and that run's results. The callables must already carry their
    thread budget (the harness sets it on the index)."""
    nq = len(queries)
    best: dict[str, Any] = {"qps": 0.0}
    if mode == "single":
        for q in queries[:warmup]:
            search_one(q)
        for _ in range(runs):
            lat = np.empty(nq, dtype=np.int64)
            results = [None] * nq
            pc = time.perf_counter_ns
            t0 = pc()
            for i in range(nq):
                s = pc()
                results[i] = search_one(queries[i])
                lat[i] = pc() - s
            wall = (pc() - t0) / 1e9
            if nq / wall > best["qps"]:
                best = {"qps": nq / wall, "latencies_ns": lat, "results": results, "wall_s": wall}
    elif mode == "batch":
        search_batch(queries[:warmup])
        for _ in range(runs):
            t0 = time.perf_counter()
            search_batch(queries)
            wall = time.perf_counter() - t0
            best = max(best, {"qps": nq / wall, "wall_s": wall}, key=lambda r: r["qps"])
    elif mode == "clients":
        parts = np.array_split(np.arange(nq), threads)

        def client(rows):
            for r in rows:
                search_one(queries[r])

        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(client, [p[:5] for p in parts]))  # warm-up
            for _ in range(runs):
                t0 = time.perf_counter()
                list(pool.map(client, parts))
                wall = time.perf_counter() - t0
                best = max(best, {"qps": nq / wall, "wall_s": wall}, key=lambda r: r["qps"])
    else:
        raise ValueError(f"unknown mode {mode!r} (single, batch, clients)")
    return best


def measure_pair(one_a: Callable[[np.ndarray], Any], one_b: Callable[[np.ndarray], Any], queries: np.ndarray,
                 runs: int = 7, warmup: int = 50) -> dict[str, Any]:
    """Single-query latency of two callables measured interleaved, so both see the same machine load: in each
    round every query goes once through each, a and b alternate which goes first, and at any moment they work
    on queries half the set apart (neither warms the other's cache). Two estimates of a's QPS over b's:
    `ratio_best` from each query's best latency over the rounds (a preempted call says nothing about either
    side; the benchmark's headline), and `ratio` = the median over rounds of Σ b / Σ a within the round (on a
    heavily shared machine a round's sums are dominated by a few preempted calls, so it scatters more).
    QPS per side = queries / the sum of its per-query bests. Used for mgw vs the raw library call."""
    nq = len(queries)
    for i in range(min(warmup, nq)):
        one_a(queries[i])
        one_b(queries[i])
    pc = time.perf_counter_ns
    lat_a = np.empty((runs, nq), dtype=np.int64)
    lat_b = np.empty((runs, nq), dtype=np.int64)
    for r in range(runs):
        la, lb = lat_a[r], lat_b[r]
        for i in range(nq):
            j = (i + nq // 2) % nq
            if (i + r) & 1:
                s = pc(); one_a(queries[i]); m = pc(); one_b(queries[j]); e = pc()  # noqa: E702
                la[i], lb[j] = m - s, e - m
            else:
                s = pc(); one_b(queries[j]); m = pc(); one_a(queries[i]); e = pc()  # noqa: E702
                lb[j], la[i] = m - s, e - m
    out: dict[str, Any] = {}
    for side, lat in (("a", lat_a), ("b", lat_b)):
        best = lat.min(axis=0)
        out[side] = {"qps": nq / (best.sum() / 1e9), "latencies_ns": best, "runs": runs}
    per_round = lat_b.sum(axis=1) / lat_a.sum(axis=1)
    out["ratio"] = float(np.median(per_round))
    out["ratio_rounds"] = per_round.tolist()
    out["ratio_best"] = out["a"]["qps"] / out["b"]["qps"]
    return out


def measure_batch_pair(batch_a: Callable[[np.ndarray], Any], batch_b: Callable[[np.ndarray], Any],
                       queries: np.ndarray, runs: int = 9) -> dict[str, Any]:
    """Batch QPS of two callables, interleaved: each round runs the whole query set through a and through b
    (one call each, `queries` large enough that a call takes tens of milliseconds), the rounds alternate
    which goes first, and `ratio` = the median over rounds of b's time / a's time (a co-tenant's burst that
    hits one call of a round is outvoted by the other rounds). QPS per side = queries / its median time."""
    batch_a(queries)
    batch_b(queries)
    t = np.empty((runs, 2))
    pc = time.perf_counter
    for r in range(runs):
        for side in ((0, 1) if r % 2 == 0 else (1, 0)):
            t0 = pc()
            (batch_a if side == 0 else batch_b)(queries)
            t[r, side] = pc() - t0
    per_round = t[:, 1] / t[:, 0]
    return {"a": len(queries) / float(np.median(t[:, 0])), "b": len(queries) / float(np.median(t[:, 1])),
            "ratio": float(np.median(per_round)), "ratio_rounds": per_round.tolist(), "runs": runs}


def raw_callables(index: BaseIndex, k: int, threads: int) -> tuple[Callable, Callable]:
    """(one query, batch) callables that call the library directly on the adapter's native object
    with the same query params (queries must already be unit-norm for cosine)."""
    raw = index.raw()
    if index.backend == "hnswlib":
        return (lambda q: raw.knn_query(q, k=k, num_threads=1),
                lambda qs: raw.knn_query(qs, k=k, num_threads=threads))
    if index.backend == "faiss":
        import faiss

        def one(q):
            return raw.search(q[None, :], k)

        def batch(qs):
            faiss.omp_set_num_threads(threads)
            out = raw.search(qs, k)
            faiss.omp_set_num_threads(1)
            return out
        return one, batch
    if index.backend == "annoy":
        search_k = int(index.query_params["search_k"])

        def one(q):
            return raw.get_nns_by_vector(q, k, search_k, True)
        return one, lambda qs: [one(q) for q in qs]
    if index.backend == "exact":  # numpy as a user would write it: scores, top k, ranked (as the adapter returns)
        def one(q):
            s = raw @ q
            top = np.argpartition(-s, k)[:k]
            return top[np.argsort(-s[top])]

        def batch(qs):
            s = qs @ raw.T
            top = np.argpartition(-s, k, axis=1)[:, :k]
            return np.take_along_axis(top, np.argsort(-np.take_along_axis(s, top, 1), axis=1), 1)
        return one, batch
    raise ValueError(f"no raw callables for {index.backend}")


def _positions(ids_rows: list[np.ndarray], k: int) -> np.ndarray:
    out = np.full((len(ids_rows), k), -1, dtype=np.int64)
    for i, row in enumerate(ids_rows):
        vals = [int(v) for v in row[:k] if v is not None]
        out[i, :len(vals)] = vals
    return out


def _distances(score_rows: list[np.ndarray], k: int, metric: str) -> np.ndarray:
    out = np.full((len(score_rows), k), np.nan)
    for i, row in enumerate(score_rows):
        row = np.asarray(row, dtype=np.float64)[:k]
        out[i, :len(row)] = 1.0 - row if metric == "cosine" else row
    return out


def bench_config(ds: Dataset, cfg: Config, k: int = 10, runs: int = 3, threads: int = 2, seed: int = 42,
                 cache_dir: str | Path | None = None, modes: tuple[str, ...] = ("single", "batch", "clients"),
                 raw: bool = True) -> tuple[list[dict[str, Any]], dict[str, np.ndarray], BaseIndex]:
    """All measurements of one build and its query sweep: (rows, latencies by row key, index)."""
    from tqdm.auto import tqdm

    from threadpoolctl import threadpool_limits

    index, info = get_or_build(ds, cfg, threads=threads, seed=seed, cache_dir=cache_dir)
    rows, lats = [], {}
    q = ds.test
    for qp in tqdm(cfg.query_grid, desc=f"{ds.name} {cfg.label}", leave=False):
        index.set_query_params(threads=1, **qp)
        _set_single_thread(index)
        with threadpool_limits(1):  # single mode: one thread everywhere (BLAS for exact, OpenMP for faiss)
            single = measure_qps(lambda v: index.search(v, k), q, "single", runs=runs)
        found = _positions([r[0] for r in single["results"]], k)
        dist = _distances([r[1] for r in single["results"]], k, ds.metric)
        row = {"dataset": ds.name, "backend": cfg.backend, "config": cfg.label,
               "build_params": json.dumps(cfg.build_params), "query_params": json.dumps(qp),
               "is_default_query": qp == cfg.default_query, "k": k, "n_train": len(ds.train), "n_queries": len(q),
               "recall": float(recall_at_k(found, ds.neighbors, k).mean()),
               "recall_ties": float(recall_with_ties(dist, ds.distances, k).mean()),
               "qps_single": single["qps"], **latency_summary(single["latencies_ns"]),
               **{k_: v for k_, v in info.items() if k_ != "threads"}, "threads": threads, "runs": runs}
        if "batch" in modes:
            index.set_query_params(threads=threads)
            row["qps_batch"] = measure_qps(None, q, "batch", runs=runs, search_batch=lambda v: index.search(v, k))["qps"]
        if "clients" in modes and qp == cfg.default_query:  # concurrency at the default point only (time budget)
            index.set_query_params(threads=1)
            row["qps_clients"] = measure_qps(lambda v: index.search(v, k), q, "clients", runs=runs,
                                             threads=threads)["qps"]
        if raw and qp == cfg.default_query:  # mgw vs the raw library call, interleaved in one measurement
            row.update(raw_ratio_row(index, q, k, threads, runs, "batch" in modes))
        index.set_query_params(threads=threads)
        key = f"{ds.name}|{cfg.label}|{json.dumps(qp, sort_keys=True)}"
        lats[key] = single["latencies_ns"]
        row["latency_key"] = key
        rows.append(row)
    return rows, lats, index


def raw_ratio_row(index: BaseIndex, q: np.ndarray, k: int, threads: int, runs: int,
                  batch: bool = True) -> dict[str, Any]:
    """mgw vs the raw library call at the index's current query params: single queries on one thread
    everywhere, batches (the whole query set per call) pinned to 1 and to `threads` threads."""
    from threadpoolctl import threadpool_limits

    index.set_query_params(threads=1)
    one, _ = raw_callables(index, k, 1)
    _set_single_thread(index)
    with threadpool_limits(1):
        pair = measure_pair(lambda v: index.search(v, k), one, q, runs=max(runs, 7))
    mgw_p50 = float(np.percentile(pair["a"]["latencies_ns"], 50)) / 1e3
    raw_p50 = float(np.percentile(pair["b"]["latencies_ns"], 50)) / 1e3
    row = {"paired_qps_single": pair["a"]["qps"], "paired_p50_us": mgw_p50, "raw_qps_single": pair["b"]["qps"],
           "raw_p50_us": raw_p50, "ratio_qps_single": pair["ratio_best"], "ratio_qps_single_median_round": pair["ratio"],
           "ratio_qps_single_rounds": json.dumps([round(r, 4) for r in pair["ratio_rounds"]]),
           "ratio_p50": raw_p50 / mgw_p50}  # >1 would mean mgw is faster
    if batch:
        for t, suffix in ((1, "_1t"), (threads, "")):
            index.set_query_params(threads=t)
            _, raw_batch = raw_callables(index, k, t)
            with threadpool_limits(t):
                pb = measure_batch_pair(lambda v: index.search(v, k), raw_batch, q, runs=max(runs, 9))
            row.update({f"paired_qps_batch{suffix}": pb["a"], f"raw_qps_batch{suffix}": pb["b"],
                        f"ratio_qps_batch{suffix}": pb["ratio"],
                        f"ratio_qps_batch{suffix}_rounds": json.dumps([round(r, 4) for r in pb["ratio_rounds"]])})
    index.set_query_params(threads=1)
    _set_single_thread(index)
    return row


def _set_single_thread(index: BaseIndex) -> None:
    if index.backend == "faiss":
        import faiss

        faiss.omp_set_num_threads(1)


# --------------------------------------------------------------------------- filtered search
def bench_filtered(ds: Dataset, index: BaseIndex, label: str, selectivities=(0.01, 0.1, 0.5), k: int = 10,
                   n_queries: int = 200, seed: int = 42, runs: int = 1) -> list[dict[str, Any]]:
    """Recall@k and single-thread QPS of filtered search at each selectivity (seeded random allowed
    subsets; ground truth = exact search over the subset). The filter is compiled once (make_filter)."""
    rng = np.random.default_rng(seed)
    q = ds.test[:n_queries]
    rows = []
    index.set_query_params(threads=1)
    _set_single_thread(index)
    for sel in selectivities:
        m = max(k, int(round(sel * len(ds.train))))
        allowed_pos = np.sort(rng.choice(len(ds.train), m, replace=False))
        flt = index.make_filter(str(i) for i in allowed_pos)
        sims = q @ ds.train[allowed_pos].T
        truth = allowed_pos[np.argsort(-sims, axis=1)[:, :k]]
        res = measure_qps(lambda v: index.search(v, k, filter=flt), q, "single", runs=runs, warmup=10)
        found = _positions([r[0] for r in res["results"]], k)
        rows.append({"dataset": ds.name, "backend": index.backend, "config": label, "selectivity": sel,
                     "allowed": m, "strategy": getattr(index, "last_filter_strategy", None),
                     "recall": float(recall_at_k(found, truth, k).mean()),
                     "min_results": int((found >= 0).sum(1).min()), "qps_single": res["qps"],
                     **latency_summary(res["latencies_ns"]), "n_queries": len(q)})
    index.set_query_params(threads=2)
    return rows


# --------------------------------------------------------------------------- summary
#: the seed's figures measured on the seed default config (M=32, efConstruction=200, efSearch=100): every claim in
#: mgw/claims.py read from bench.json's `seed_default.<dataset>.<field>`
SEED_CLAIM_IDS = ("s1.1.1-p50", "s5.1-search-p95", "s1.1.1-recall", "s1.1.1-qps", "s1.1.1-memory", "s5.2-batch-inserts")
SEED_DEFAULT = {"M": 32, "efConstruction": 200}
RECALL_TARGETS = (0.90, 0.95, 0.99)


def raw_ratio_headline(raw_ratios: dict[str, dict[str, dict[str, Any]]]) -> dict[str, Any]:
    """The adapter's worst case: min mgw/raw QPS ratio over every dataset and configuration (goals: single
    ≥ 0.95, batch ≥ 0.98), and where it occurred."""
    out: dict[str, Any] = {}
    for mode, keys in (("single", {"ratio_qps_single": ""}),
                       ("batch", {"ratio_qps_batch_1t": " (1 thread)", "ratio_qps_batch": " (--threads)"})):
        cells = [(v[key], f"{ds} | {cfg}{where}") for ds, cfgs in raw_ratios.items() for cfg, v in cfgs.items()
                 for key, where in keys.items() if v.get(key) is not None and np.isfinite(v[key])]
        worst = min(cells) if cells else (None, None)
        out[f"min_raw_ratio_{mode}"], out[f"min_raw_ratio_{mode}_at"] = worst
    return out


def _rounds(cell: Any) -> list[float] | None:
    return json.loads(cell) if isinstance(cell, str) else None


def summarize(results: list[dict[str, Any]], filtered: list[dict[str, Any]], datasets: dict[str, Any]) -> dict[str, Any]:
    """bench.json payload: best single-thread QPS at recall targets, seed default measured, raw ratios,
    filtered results, seed claims vs measured."""
    import pandas as pd

    df = pd.DataFrame(results)
    out: dict[str, Any] = {"datasets": datasets, "best_qps_at_recall": {}, "raw_ratios": {}, "seed_default": {},
                           "claims": [], "filtered": filtered}
    for (dsn, backend), g in df.groupby(["dataset", "backend"]):
        best = {}
        for target in RECALL_TARGETS:
            ok = g[g["recall"] >= target]
            if ok.empty:
                best[f"{target:.2f}"] = None
                continue
            r = ok.loc[ok["qps_single"].idxmax()]
            best[f"{target:.2f}"] = {"qps_single": r["qps_single"], "recall": r["recall"], "config": r["config"],
                                     "query_params": json.loads(r["query_params"]), "p50_us": r["p50_us"]}
        out["best_qps_at_recall"].setdefault(dsn, {})[backend] = best
    if "ratio_qps_single" in df:
        for _, r in df[df["ratio_qps_single"].notna()].iterrows():
            out["raw_ratios"].setdefault(r["dataset"], {})[r["config"]] = {
                "query_params": json.loads(r["query_params"]), "qps_single_mgw": r["paired_qps_single"],
                "qps_single_raw": r["raw_qps_single"], "ratio_qps_single": r["ratio_qps_single"],
                "p50_us_mgw": r["paired_p50_us"], "p50_us_raw": r["raw_p50_us"], "ratio_p50": r["ratio_p50"],
                "ratio_qps_single_median_round": r.get("ratio_qps_single_median_round"),
                "ratio_qps_single_rounds": _rounds(r.get("ratio_qps_single_rounds")),
                **{f"{key}{suffix}": r.get(f"{col}{suffix}") for suffix in ("_1t", "")
                   for key, col in (("qps_batch_mgw", "paired_qps_batch"), ("qps_batch_raw", "raw_qps_batch"),
                                    ("ratio_qps_batch", "ratio_qps_batch"))},
                **{f"ratio_qps_batch{suffix}_rounds": _rounds(r.get(f"ratio_qps_batch{suffix}_rounds"))
                   for suffix in ("_1t", "")}}
    out["headline"] = raw_ratio_headline(out["raw_ratios"])
    seed_rows = df[(df["backend"] == "hnswlib") & (df["build_params"] == json.dumps(SEED_DEFAULT))
                   & (df["query_params"] == json.dumps({"efSearch": 100}))]
    for _, r in seed_rows.iterrows():
        measured = r.to_dict()
        measured["mb_per_100k"] = r["bytes_per_vector"] * 100_000 / 1e6
        keep = ["recall", "recall_ties", "qps_single", "qps_batch", "qps_clients", "p50_us", "p95_us", "p99_us",
                "build_s", "build_vectors_per_s", "insert_per_s", "serialized_bytes", "bytes_per_vector",
                "mb_per_100k", "rss_delta_bytes", "n_train"]
        out["seed_default"][r["dataset"]] = {k: measured.get(k) for k in keep}
        for claim in map(seed_claims.get, SEED_CLAIM_IDS):
            got = measured.get(claim.keys[0].rsplit(".", 1)[-1])
            out["claims"].append({"dataset": r["dataset"], "id": claim.id, "claim": f"{claim.what} ({claim.section})",
                                  "seed": claim.value, "measured": got, "unit": claim.unit, "better": claim.rule,
                                  "config": "hnswlib M=32 efConstruction=200 efSearch=100, 1 thread",
                                  "meets_claim": None if got is None else claim.holds(got)})
    return out


def run_benchmark(datasets: list[str], backends: list[str], embeddings: str | Path | None = "data/processed/embeddings.npy",
                  queries: int = 1000, runs: int = 3, threads: int = 2, k: int = 10, seed: int = 42,
                  grid: str = "small", out_dir: str | Path = "reports", bench_dir: str | Path | None = None,
                  cache_dir: str | Path | None = None, filtered_queries: int = 200,
                  metrics_name: str = "bench") -> dict[str, Any]:
    """Everything `mgw bench` does: datasets → builds → sweeps → results table, latencies, plots, bench.json."""
    import faiss
    import pandas as pd
    from threadpoolctl import threadpool_limits

    from mgw.bench import plots
    from mgw.bench.datasets import load_dataset
    from mgw.bench.metrics import angular_to_euclid, lid_mle, relative_contrast
    from mgw.reporting import write_metrics

    out_dir = Path(out_dir)
    faiss.omp_set_num_threads(threads)
    results, filtered, lat_all, ds_info, skipped = [], [], {}, {}, {}
    with threadpool_limits(threads):
        for name in datasets:
            try:
                ds = load_dataset(name, embeddings=embeddings, queries=queries, seed=seed, bench_dir=bench_dir)
            except FileNotFoundError as e:
                skipped[name] = str(e)
                continue
            eu = angular_to_euclid(ds.distances)
            ds_info[name] = {"n_train": len(ds.train), "n_test": len(ds.test), "dim": ds.dim, "distance": ds.distance,
                             "rc10": relative_contrast(ds.train, ds.test, eu, 10, seed=seed), "lid10": lid_mle(eu, 10),
                             **{k_: v for k_, v in ds.attrs.items()}}
            filtered_done: set[str] = set()
            for cfg in default_configs(backends, len(ds.train), grid):
                rows, lats, index = bench_config(ds, cfg, k=k, runs=runs, threads=threads, seed=seed, cache_dir=cache_dir)
                results += rows
                lat_all.update(lats)
                if cfg.backend not in filtered_done and cfg.backend != "exact":  # first build of each backend
                    filtered_done.add(cfg.backend)
                    index.set_query_params(**cfg.default_query)
                    filtered += bench_filtered(ds, index, cfg.label, k=k, n_queries=min(filtered_queries, len(ds.test)),
                                               seed=seed)
                del index
                gc.collect()
    if not results:
        raise FileNotFoundError("no benchmark dataset could be built: " + "; ".join(skipped.values()))
    bench_out = out_dir / "bench"
    bench_out.mkdir(parents=True, exist_ok=True)
    df = pd.DataFrame(results)
    df.to_csv(bench_out / "results.csv", index=False)
    df.to_parquet(bench_out / "results.parquet", index=False)
    pd.DataFrame(filtered).to_csv(bench_out / "filtered.csv", index=False)
    np.savez_compressed(bench_out / "latencies.npz", **{f"l{i}": v for i, v in enumerate(lat_all.values())},
                        keys=np.array(list(lat_all.keys())))
    summary = summarize(results, filtered, ds_info)
    summary["skipped_datasets"] = skipped
    summary["settings"] = {"load_average_1m_at_end": os.getloadavg()[0], "datasets": datasets, "backends": backends, "queries": queries, "runs": runs,
                           "threads": threads, "k": k, "grid": grid, "embeddings": str(embeddings)}
    figures = plots.plot_all(df, pd.DataFrame(filtered), lat_all, out_dir / "figures" / "bench")
    summary["figures"] = [str(f) for f in figures]
    path = write_metrics(metrics_name, summary, seed=seed, threads=threads, metrics_dir=out_dir / "metrics")
    summary["path"] = str(path)
    return summary


def load_latencies(path: str | Path) -> dict[str, np.ndarray]:
    """latencies.npz written by run_benchmark → {row latency_key: ns array}."""
    z = np.load(path)
    return {k: z[f"l{i}"] for i, k in enumerate(z["keys"].tolist())}
