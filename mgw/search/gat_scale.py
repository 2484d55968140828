"""The GAT's rerank for a user it has not seen, at a chosen catalog size, before and after issue 20, side by side:

    python -m mgw.search.gat_scale --items 21438 --queries 200 --rounds 5 --out reports/metrics/gat_scale.json

Seeded synthetic unit vectors from the simulated generator (the real catalogs hold 21,438 indexed titles), a
GAT of the production shape (384 → 256, 8 heads) with random weights — latency does not depend on them —, and
an hnswlib index as params.yaml's (M=32, efConstruction=200, efSearch=100). Per query, interleaved: `before`
(main before issue 20: the 20 nearest items by a scan of every item vector, both GAT layers projected per
query), `scan` (precomputed projections, scan) and `index` (precomputed projections, neighbours through the
index: what `build_pipeline` serves). One thread for BLAS and torch.
"""
from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np


def main(argv: list[str] | None = None) -> dict:
    import torch
    from threadpoolctl import threadpool_limits

    from mgw.bench.datasets import SynthGenerator, normalize
    from mgw.index import make_index
    from mgw.provenance import stamp
    from mgw.rerank.features import FEATURES, popularity_space
    from mgw.rerank.inference import NodeCache, Reranker, _elu, _gat_one
    from mgw.rerank.model import GATReranker
    from mgw.search.rerankers import GatAdapter

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--items", type=int, default=21438)
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=None)
    a = ap.parse_args(argv)
    torch.set_num_threads(1)
    torch.manual_seed(a.seed)
    n = a.items
    allx = normalize(SynthGenerator.default(384, a.seed).sample(n + a.queries, a.seed).astype(np.float32))
    x, q = allx[:n].copy(), allx[n:].copy()
    ids = [f"t{i}" for i in range(n)]
    model = GATReranker(384, 256, 8, n_items=n, n_features=len(FEATURES)).eval()
    cache = NodeCache(torch.from_numpy(x), torch.randn(n, 256), torch.randn(n, 256))
    pop = np.random.default_rng(a.seed).integers(0, 50, n).astype(np.float64)
    space = popularity_space(x, pop)  # the features' cost is paid, with popularity as the only signal

    class Before(Reranker):  # the serving path before issue 20: both layers projected per query
        def _user_from_history(self, pref, items):
            u_x = pref[None]
            u1 = _elu(_gat_one(self._conv1, np.vstack([u_x, self._item_x[items]]), u_x))
            return (_gat_one(self._conv2, np.vstack([u1, self._item_h1[items]]), u1)[0]
                    + u_x[0] @ self._skip_w.T + self._skip_b)

    user_h, user_e = torch.randn(1, 256), torch.zeros(1, 256)
    gat, before = (cls(model, ids, cache, ["u0"], user_h, user_e, space, []) for cls in (Reranker, Before))
    t0 = time.perf_counter()
    index = make_index("hnswlib", 384, "cosine", threads=2, M=32, efConstruction=200).build(x, ids)
    index.set_query_params(efSearch=100, threads=1)
    build_s = time.perf_counter() - t0
    ad, ad_before = GatAdapter(gat), GatAdapter(before)
    if not ad.use_index(index):
        raise RuntimeError("the index does not hold the GAT's items")
    nearest = gat._item_search
    cands = [(v, *(lambda f, s: (f.tolist(), s))(*index.search(v, 100))) for v in q]
    t: dict[str, list[float]] = {"before": [], "scan": [], "index": []}
    same, recall = [], []
    pc = time.perf_counter
    with threadpool_limits(1):
        for r in range(a.rounds):
            for v, c, s in cands:
                pages = {}
                for mode in (("index", "scan", "before") if r % 2 == 0 else ("before", "scan", "index")):
                    gat.use_item_search(nearest if mode == "index" else None)
                    t1 = pc()
                    ranked, _ = (ad_before if mode == "before" else ad).rerank(None, c, s, None, query_vector=v)
                    t[mode].append((pc() - t1) * 1e3)
                    pages[mode] = ranked[:10]
                if r == 0:
                    same.append(pages["index"] == pages["before"])
                    gat.use_item_search(None)
                    exact = set(gat.nearest_items(v).tolist())
                    gat.use_item_search(nearest)
                    recall.append(len(exact & set(gat.nearest_items(v).tolist())) / len(exact))
    gat.use_item_search(nearest)
    p50 = {m: float(np.percentile(v, 50)) for m, v in t.items()}
    out = {"items": n, "queries": a.queries, "rounds": a.rounds,
           **{f"rerank_p50_ms_{m}": v for m, v in p50.items()},
           **{f"rerank_p99_ms_{m}": float(np.percentile(v, 99)) for m, v in t.items()},
           "before_over_index": p50["before"] / p50["index"], "scan_over_index": p50["scan"] / p50["index"],
           "identical_top10_pages": float(np.mean(same)), "pseudo_history_recall": float(np.mean(recall)),
           "index_build_s": build_s, "load_average": list(os.getloadavg()), "_provenance": stamp(a.seed, 1)}
    if a.out:
        Path(a.out).parent.mkdir(parents=True, exist_ok=True)
        Path(a.out).write_text(json.dumps(out, indent=2, default=str))
    print(json.dumps({k: v for k, v in out.items() if k != "_provenance"}))
    return out


if __name__ == "__main__":
    main()
