"""A single-query search loop through one backend, for a sampling profiler (docs/index-bench.md):

    py-spy record -r 1000 -f raw -o prof.txt -- python -m mgw.bench.hotloop hnswlib --passes 8

Seeded random unit vectors (4,000 × 384, the size of the simulated catalog), one thread everywhere, the
benchmark's default query params for each configuration.
"""
from __future__ import annotations

import argparse
import time

import numpy as np

CONFIGS = {"hnswlib": ("hnswlib", {"M": 32, "efConstruction": 200}, {"efSearch": 100}),
           "faiss-hnsw": ("faiss", {"factory": "HNSW32,Flat"}, {"efSearch": 100}),
           "faiss-ivfpq": ("faiss", {"factory": "IVF64,PQ48"}, {"nprobe": 16}),
           "annoy": ("annoy", {"n_trees": 100}, {"search_k": 2000}),
           "exact": ("exact", {}, {})}


def main(argv: list[str] | None = None) -> float:
    import faiss
    from threadpoolctl import threadpool_limits

    from mgw.index import make_index

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("config", choices=sorted(CONFIGS))
    ap.add_argument("--passes", type=int, default=8)
    ap.add_argument("--n", type=int, default=4000)
    args = ap.parse_args(argv)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((args.n, 384)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    q = rng.standard_normal((500, 384)).astype(np.float32)
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    backend, build, query = CONFIGS[args.config]
    faiss.omp_set_num_threads(1)
    index = make_index(backend, 384, "cosine", threads=1, **build).build(x, [str(i) for i in range(args.n)])
    index.set_query_params(threads=1, **query)
    with threadpool_limits(1):
        t0 = time.perf_counter()
        for _ in range(args.passes):
            for v in q:
                index.search(v, 10)
    us = (time.perf_counter() - t0) / (len(q) * args.passes) * 1e6
    print(f"{args.config}: {us:.1f} µs per query through mgw")
    return us


if __name__ == "__main__":
    main()
