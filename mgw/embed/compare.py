"""Runtimes side by side on the same texts, in one run (for embed.json): batch throughput, single-query
latency, and agreement with the torch reference — mean cosine of the vectors and top-10 overlap of a catalog
search (queries and catalog both embedded by the runtime under test, compared with both by torch).

Timing is interleaved so every runtime sees the same machine load: the sample is split in two halves, the
first timed in the order torch, onnx, onnx-int8 and the second in reverse; single queries rotate the order.
"""
from __future__ import annotations

import time
from typing import Any, Callable

import numpy as np

REFERENCE = "torch"
# Search-style queries (≤ 12 words), as users type them; catalog titles of held-out items are added to them.
PROBE_QUERIES = (
    "heist movies", "space documentaries", "feel-good family movies", "90s sci-fi shows", "british crime dramas",
    "a detective solving murders in a small town", "true crime docuseries", "kids cartoons", "stand-up comedy specials",
    "romantic comedies set in new york", "a haunted house horror film with a twist ending",
    "anime about giant robots and friendship", "cooking competition reality show",
    "documentary about climate change and the oceans", "superhero action with a female lead",
    "a coming of age story about two friends on a road trip",
)


def top_k(queries: np.ndarray, catalog: np.ndarray, k: int = 10) -> np.ndarray:
    s = queries @ catalog.T
    top = np.argpartition(-s, k, axis=1)[:, :k]
    return np.take_along_axis(top, np.argsort(-np.take_along_axis(s, top, 1), axis=1), 1)


def overlap_at_k(a: np.ndarray, b: np.ndarray) -> float:
    """Mean |top-k(a) ∩ top-k(b)| / k over queries."""
    return float(np.mean([len(set(x) & set(y)) / len(x) for x, y in zip(a.tolist(), b.tolist())]))


def compare_runtimes(make: Callable[[str], Any], names: list[str], texts: list[str], titles: list[str],
                     sample: int, seed: int, k: int = 10, single_queries: int = 60) -> dict[str, Any]:
    """`make(name)` → a runtime with `encode(list[str])`; `names` starts with the torch reference.
    `texts`: catalog texts; `titles`: their titles (held-out titles serve as queries)."""
    rng = np.random.default_rng(seed)
    perm = rng.permutation(len(texts))
    cat_rows = np.sort(perm[:min(sample, len(texts) - 1)])
    query_texts = list(PROBE_QUERIES) + [titles[i] for i in perm[len(cat_rows):len(cat_rows) + 200]]
    catalog = [texts[i] for i in cat_rows]
    half = len(catalog) // 2
    runtimes = {n: make(n) for n in names}
    for rt in runtimes.values():  # warm-up: first calls allocate arenas, JIT-select kernels
        rt.encode(catalog[:8])
        rt.encode([query_texts[0]])

    seconds = {n: 0.0 for n in names}
    parts: dict[str, list[np.ndarray]] = {n: [] for n in names}
    for chunk, order in ((catalog[:half], names), (catalog[half:], names[::-1])):
        for n in order:
            t0 = time.perf_counter()
            parts[n].append(runtimes[n].encode(chunk))
            seconds[n] += time.perf_counter() - t0
    vectors = {n: np.concatenate(parts[n]) for n in names}

    probes = [q for q in query_texts if len(q.split()) <= 12][:single_queries]
    lat: dict[str, list[float]] = {n: [] for n in names}
    for i, q in enumerate(probes):
        for n in names[i % len(names):] + names[:i % len(names)]:
            t0 = time.perf_counter()
            runtimes[n].encode([q])
            lat[n].append((time.perf_counter() - t0) * 1e3)

    qvec = {n: runtimes[n].encode(query_texts) for n in names}
    ref = names[0]
    ref_top = top_k(qvec[ref], vectors[ref], k)
    out: dict[str, Any] = {"reference": ref, "sample_texts": len(catalog), "queries": len(query_texts),
                           "single_query_texts": len(probes), "max_query_words": max(len(q.split()) for q in probes),
                           "k": k, "seed": seed, "runtimes": {}}
    for n in names:
        cos = np.einsum("ij,ij->i", vectors[n], vectors[ref])
        qcos = np.einsum("ij,ij->i", qvec[n], qvec[ref])
        out["runtimes"][n] = {
            "texts_per_s": len(catalog) / seconds[n], "throughput_ratio_vs_torch": seconds[ref] / seconds[n],
            "single_query_p50_ms": float(np.percentile(lat[n], 50)),
            "single_query_p95_ms": float(np.percentile(lat[n], 95)),
            "single_query_speedup_vs_torch": float(np.percentile(lat[ref], 50) / np.percentile(lat[n], 50)),
            "mean_cosine_vs_torch": float(cos.mean()), "min_cosine_vs_torch": float(cos.min()),
            "query_mean_cosine_vs_torch": float(qcos.mean()),
            "top10_overlap_vs_torch": overlap_at_k(top_k(qvec[n], vectors[n], k), ref_top),
        }
    return out
