"""Offline cache simulator: replay query workloads through LRU, LFU, Belady's optimum and the
seed's L1(LRU,15 s)+L2(LFU,5 min) hierarchy at many sizes, with and without the semantic layer.

A workload is a sequence of *phrasings*: each request asks for an intent (a distinct query, drawn
from Zipf(α) or from MovieLens title popularity in timestamp order) in one of `variants` phrasings.
Without the semantic layer every phrasing is its own key; with it, phrasings of one intent share an
entry — the ideal semantic layer (every paraphrase matched, none confused), an upper bound on what
the embedding threshold achieves. Arrivals are spaced at `qps` so TTLs mean something. The policies
here are lean re-implementations for speed; tests check them against the real cache classes.
"""
from __future__ import annotations

import heapq
import math
from collections import OrderedDict, defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

import numpy as np
from tqdm import tqdm

from mgw.errors import DataError


@dataclass
class Workload:
    name: str
    intents: np.ndarray  # int64 intent id per request
    phrasings: np.ndarray  # int64 phrasing id per request (intent * variants + variant)
    times: np.ndarray  # float64 seconds
    params: dict

    def keys(self, semantic: bool) -> list[int]:
        return (self.intents if semantic else self.phrasings).tolist()


def zipf_workload(alpha: float, n_items: int, n_requests: int, variants: int = 3, qps: float = 50.0,
                  seed: int = 42) -> Workload:
    if alpha <= 0 or n_items < 1 or n_requests < 1 or variants < 1 or qps <= 0:
        raise DataError("zipf workload needs alpha > 0, n_items ≥ 1, n_requests ≥ 1, variants ≥ 1, qps > 0")
    rng = np.random.default_rng(seed)
    p = 1.0 / np.arange(1, n_items + 1) ** alpha
    p /= p.sum()
    intents = rng.permutation(n_items)[rng.choice(n_items, size=n_requests, p=p)]
    return _finish(f"zipf-{alpha:g}", intents, variants, qps, rng,
                   dict(kind="zipf", alpha=alpha, n_items=n_items, n_requests=n_requests, variants=variants,
                        qps=qps, seed=seed))


def movielens_workload(ratings_csv: str | Path, n_requests: int | None = None, variants: int = 3,
                       qps: float = 50.0, seed: int = 42) -> Workload:
    """Requests = ratings in timestamp order, each a query about the rated title: real title popularity
    and real temporal locality (sessions of one user), replayed at `qps`."""
    import pandas as pd

    path = Path(ratings_csv)
    if not path.exists():
        raise FileNotFoundError(f"MovieLens ratings not found: {path}")
    df = pd.read_csv(path, usecols=["userId", "movieId", "timestamp"])
    df = df.sort_values(["timestamp", "userId"], kind="stable")
    if n_requests is not None:
        df = df.iloc[:n_requests]
    intents = df["movieId"].to_numpy(np.int64)
    rng = np.random.default_rng(seed)
    return _finish("movielens", intents, variants, qps, rng,
                   dict(kind="movielens", source=str(path), n_requests=len(df), n_items=int(np.unique(intents).size),
                        variants=variants, qps=qps, seed=seed))


def _finish(name, intents, variants, qps, rng, params) -> Workload:
    phrasings = intents * variants + rng.integers(0, variants, size=intents.size)
    times = np.cumsum(rng.exponential(1.0 / qps, size=intents.size))
    return Workload(name, intents.astype(np.int64), phrasings.astype(np.int64), times, params)


# --------------------------------------------------------------------------- policies (hit counts)
def lru_hits(keys: list[int], size: int, times: Iterable[float] | None = None, ttl: float = math.inf) -> int:
    cache: OrderedDict[int, float] = OrderedDict()
    hits = 0
    ts = times if times is not None else [0.0] * len(keys)
    for k, t in zip(keys, ts):
        exp = cache.get(k)
        if exp is not None and t < exp:
            hits += 1
            cache.move_to_end(k)
            continue
        if exp is not None:
            del cache[k]
        elif len(cache) >= size:
            cache.popitem(last=False)
        cache[k] = t + ttl
    return hits


class _LFU:
    """O(1) LFU with TTL, ties least-recently-used (same policy as mgw.cache.l2.LFUCache)."""

    def __init__(self, size: int, ttl: float):
        self.size, self.ttl = size, ttl
        self.exp: dict[int, float] = {}
        self.freq: dict[int, int] = {}
        self.buckets: defaultdict[int, OrderedDict] = defaultdict(OrderedDict)
        self.min_freq = 0

    def get(self, k: int, t: float) -> bool:
        exp = self.exp.get(k)
        if exp is None:
            return False
        if t >= exp:
            self._drop(k)
            return False
        f = self.freq[k]
        b = self.buckets[f]
        del b[k]
        if not b:
            del self.buckets[f]
            if self.min_freq == f:
                self.min_freq = f + 1
        self.freq[k] = f + 1
        self.buckets[f + 1][k] = None
        return True

    def put(self, k: int, t: float) -> None:
        if k in self.exp:
            self.exp[k] = t + self.ttl
            return
        if len(self.exp) >= self.size:
            if self.min_freq not in self.buckets:
                self.min_freq = min(self.buckets)
            self._drop(next(iter(self.buckets[self.min_freq])))
        self.exp[k] = t + self.ttl
        self.freq[k] = 1
        self.buckets[1][k] = None
        self.min_freq = 1

    def _drop(self, k: int) -> None:
        del self.exp[k]
        f = self.freq.pop(k)
        b = self.buckets[f]
        del b[k]
        if not b:
            del self.buckets[f]


def lfu_hits(keys: list[int], size: int, times: Iterable[float] | None = None, ttl: float = math.inf) -> int:
    lfu = _LFU(size, ttl)
    hits = 0
    ts = times if times is not None else [0.0] * len(keys)
    for k, t in zip(keys, ts):
        if lfu.get(k, t):
            hits += 1
        else:
            lfu.put(k, t)
    return hits


def belady_hits(keys: list[int], size: int) -> int:
    """Belady's MIN (offline optimum, no TTL): evict the entry whose next request is farthest away."""
    n = len(keys)
    nxt = [n] * n
    last: dict[int, int] = {}
    for i in range(n - 1, -1, -1):
        nxt[i] = last.get(keys[i], n + i)  # never again → beyond the end (distinct per key)
        last[keys[i]] = i
    cached: dict[int, int] = {}  # key → its next use
    heap: list[tuple[int, int]] = []  # (-next use, key), lazily cleaned
    hits = 0
    for i, k in enumerate(keys):
        if k in cached:
            hits += 1
        elif len(cached) >= size:
            while True:
                neg, victim = heapq.heappop(heap)
                if cached.get(victim) == -neg:
                    del cached[victim]
                    break
        cached[k] = nxt[i]
        heapq.heappush(heap, (-nxt[i], k))
    return hits


def tiered_hits(keys: list[int], times: list[float], l1_size: int, l1_ttl: float, l2_size: int,
                l2_ttl: float) -> tuple[int, int]:
    """The seed hierarchy: L1 LRU+TTL in front of L2 LFU+TTL; an L2 hit is promoted to L1."""
    l1: OrderedDict[int, float] = OrderedDict()
    l2 = _LFU(l2_size, l2_ttl)
    h1 = h2 = 0
    for k, t in zip(keys, times):
        exp = l1.get(k)
        if exp is not None and t < exp:
            h1 += 1
            l1.move_to_end(k)
            continue
        if exp is not None:
            del l1[k]
        if l2.get(k, t):
            h2 += 1
        else:
            l2.put(k, t)
        if len(l1) >= l1_size:
            l1.popitem(last=False)
        l1[k] = t + l1_ttl
    return h1, h2


# --------------------------------------------------------------------------- experiment
def simulate(workloads: list[Workload], sizes: list[int], *, l1_size: int = 100, l1_ttl: float = 15.0,
             l2_size: int = 10_000, l2_ttl: float = 300.0, target: float = 0.8, progress: bool = True) -> dict:
    """Hit-ratio curves per workload × semantic on/off × policy × size, plus the seed configuration."""
    sizes = sorted(set(int(s) for s in sizes))
    out: dict = {"sizes": sizes, "target": target,
                 "seed_config": {"L1": {"maxSize": l1_size, "ttl": l1_ttl}, "L2": {"maxSize": l2_size, "ttl": l2_ttl}},
                 "policies": ["lru", "lfu", "belady", "tiered"], "workloads": {}}
    jobs = [(w, sem) for w in workloads for sem in (False, True)]
    for w, sem in tqdm(jobs, desc="cache simulate", disable=not progress):
        keys, times = w.keys(sem), w.times.tolist()
        n = len(keys)
        curves = {"lru": [], "lfu": [], "belady": [], "tiered": []}
        for s in sizes:
            curves["lru"].append(lru_hits(keys, s) / n)
            curves["lfu"].append(lfu_hits(keys, s) / n)
            curves["belady"].append(belady_hits(keys, s) / n)
            h1, h2 = tiered_hits(keys, times, min(l1_size, s), l1_ttl, s, l2_ttl)
            curves["tiered"].append((h1 + h2) / n)
        h1, h2 = tiered_hits(keys, times, l1_size, l1_ttl, l2_size, l2_ttl)
        seed_hit = (h1 + h2) / n
        entry = out["workloads"].setdefault(w.name, {"params": w.params, "distinct_keys": {}, "curves": {},
                                                     "seed_config_hit_rate": {}, "min_size_for_target": {}})
        label = "semantic" if sem else "exact"
        entry["distinct_keys"][label] = int(len(set(keys)))
        entry["curves"][label] = curves
        entry["seed_config_hit_rate"][label] = {"total": seed_hit, "L1": h1 / n, "L2": h2 / n,
                                                "meets_target": seed_hit > target}
        entry["min_size_for_target"][label] = {
            p: next((s for s, h in zip(sizes, c) if h > target), None) for p, c in curves.items()}
    out["target_holds"] = sorted(f"{name} ({label})" for name, e in out["workloads"].items()
                                 for label, r in e["seed_config_hit_rate"].items() if r["meets_target"])
    return out


def default_workloads(cache_params, seed: int, ratings_csv: str | Path | None) -> list[Workload]:
    p = cache_params
    ws = [zipf_workload(a, p.sim_items, p.sim_requests, p.sim_variants, p.sim_qps, seed) for a in p.sim_alphas]
    if ratings_csv is not None and Path(ratings_csv).exists():
        ws.append(movielens_workload(ratings_csv, p.sim_requests, p.sim_variants, p.sim_qps, seed))
    return ws


def curves_table(result: dict) -> list[dict]:
    """Long-format rows (workload, mode, policy, size, hit_ratio) for CSV plots and notebooks."""
    rows = []
    for name, e in result["workloads"].items():
        for label, curves in e["curves"].items():
            for policy, hs in curves.items():
                rows += [dict(workload=name, mode=label, policy=policy, size=s, hit_ratio=h)
                         for s, h in zip(result["sizes"], hs)]
    return rows


def run(params, ratings_csv: str | Path | None, out_dir: str | Path, progress: bool = True) -> dict:
    """Default workloads from params → simulate → `<out_dir>/simulation.json` and `hit_ratio.csv`."""
    import pandas as pd

    from mgw.cache.results import save_part

    c = params.cache
    res = simulate(default_workloads(c, params.seed, ratings_csv), c.sim_sizes, l1_size=c.L1.maxSize,
                   l1_ttl=c.ttl_classes.get("search", c.L1.ttl), l2_size=c.L2.maxSize, l2_ttl=c.L2.ttl,
                   progress=progress)
    res["semantic_model"] = "ideal: every paraphrase of an intent shares an entry (upper bound)"
    out_dir = Path(out_dir)
    save_part("simulation", res, out_dir)
    pd.DataFrame(curves_table(res)).to_csv(out_dir / "hit_ratio.csv", index=False)
    return res


def quick_run(out_dir: str | Path, seed: int = 42, ratings_csv: str | Path | None = None) -> dict:
    """A small simulation (seconds) for notebooks run without pipeline artifacts: 5,000 requests per
    workload, three Zipf α and the MovieLens trace when present. Writes the same files as `run`."""
    import pandas as pd

    from mgw.cache.results import save_part

    ws = [zipf_workload(a, 2000, 5000, 3, 50.0, seed) for a in (0.6, 1.0, 1.4)]
    if ratings_csv is not None and Path(ratings_csv).exists():
        ws.append(movielens_workload(ratings_csv, 5000, 3, 50.0, seed))
    res = simulate(ws, [10, 30, 100, 300, 1000], l2_size=1000, progress=False)
    res["semantic_model"] = "ideal: every paraphrase of an intent shares an entry (upper bound)"
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    save_part("simulation", res, out_dir)
    pd.DataFrame(curves_table(res)).to_csv(out_dir / "hit_ratio.csv", index=False)
    return res
