"""Candidate generation, measured on its own: the pool every ranker reorders, and so its ceiling.

Four sources, each fitted on a phase's history splits only (nothing at or after the phase's cut time):
- content: the user's preference vector through an `mgw.index` exact index (today's retriever),
- itemknn: item–item cosine over positive co-occurrence (top `knn` neighbours per item),
- als: `implicit` ALS on the positive user–item matrix,
- popularity: positive events before the cut, exponentially decayed with half-life `half_life_days`.
The union takes each source's top items up to its quota (deduplicated, history excluded), then tops up from
the sources in turn. `recall_table` reports Recall@N per source and for the union.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

from mgw.errors import DataError

log = logging.getLogger(__name__)

SOURCES = ("content", "itemknn", "als", "popularity")
DAY = 86_400.0


@dataclass
class CandidateParams:
    quotas: dict[str, float] = field(default_factory=lambda: {"content": 0.2, "itemknn": 0.3, "als": 0.3,
                                                                "popularity": 0.2})
    knn: int = 100
    als_factors: int = 32
    als_iterations: int = 15
    als_regularization: float = 0.05
    half_life_days: float = 60.0
    seed: int = 0
    threads: int = 1

    @classmethod
    def from_params(cls, params) -> "CandidateParams":
        gp = params.gnn
        return cls(quotas=dict(gp.candidate_quotas), knn=gp.cf_knn, als_factors=gp.als_factors,
                   als_iterations=gp.als_iterations, als_regularization=gp.als_regularization,
                   half_life_days=gp.half_life_days, seed=params.seed, threads=gp.threads)


@dataclass
class CFModels:
    """What the collaborative sources and the ranking features share, fitted up to `cut`."""

    cut: float  # the phase's cut time: every input event is before it
    item_sim: sp.csr_matrix  # [I, I] item-kNN cosine (row = history item, column = candidate)
    als_user: dict[str, int]
    als_user_f: np.ndarray  # [users, f]
    als_item_f: np.ndarray  # [I, f]
    pop: np.ndarray  # positive events per item before the cut
    pop_decayed: np.ndarray  # the same, each weighted 2^(−age/half-life)
    last_pos: np.ndarray  # per item: time of its last positive event before the cut (NaN: never)


def positive_matrix(users: list[str], pos_items: list[np.ndarray], n_items: int) -> sp.csr_matrix:
    rows = np.concatenate([np.full(len(p), r) for r, p in enumerate(pos_items)]) if pos_items else np.zeros(0, int)
    cols = np.concatenate(pos_items) if pos_items else np.zeros(0, int)
    return sp.csr_matrix((np.ones(len(rows), np.float32), (rows, cols)), shape=(len(users), n_items))


def item_knn_matrix(x: sp.csr_matrix, k: int) -> sp.csr_matrix:
    """Cosine between item columns of the user×item matrix, keeping each row's k largest (self excluded)."""
    xc = x.tocsc().astype(np.float32)
    norms = np.sqrt(np.asarray(xc.multiply(xc).sum(0))).ravel()
    xn = xc @ sp.diags(1.0 / np.where(norms == 0, 1, norms))
    sim = (xn.T @ xn).tocsr()
    sim.setdiag(0)
    sim.eliminate_zeros()
    if k <= 0:
        return sp.csr_matrix(sim.shape, dtype=np.float32)
    rows, cols, vals = [], [], []
    for r in range(sim.shape[0]):
        s, e = sim.indptr[r], sim.indptr[r + 1]
        if e == s:
            continue
        d, c = sim.data[s:e], sim.indices[s:e]
        if len(d) > k:
            keep = np.argpartition(-d, k - 1)[:k]
            d, c = d[keep], c[keep]
        rows.append(np.full(len(c), r))
        cols.append(c)
        vals.append(d)
    if not rows:
        return sp.csr_matrix(sim.shape, dtype=np.float32)
    return sp.csr_matrix((np.concatenate(vals).astype(np.float32), (np.concatenate(rows), np.concatenate(cols))),
                         shape=sim.shape)


def fit_als(x: sp.csr_matrix, cp: CandidateParams) -> tuple[np.ndarray, np.ndarray]:
    """implicit's ALS (Hu, Koren, Volinsky 2008) on the binary positive matrix; (user factors, item factors)."""
    from implicit.cpu.als import AlternatingLeastSquares
    from threadpoolctl import threadpool_limits

    if x.nnz == 0:
        return np.zeros((x.shape[0], cp.als_factors), np.float32), np.zeros((x.shape[1], cp.als_factors), np.float32)
    with threadpool_limits(limits=1):
        model = AlternatingLeastSquares(factors=cp.als_factors, regularization=cp.als_regularization,
                                        iterations=cp.als_iterations, random_state=cp.seed,
                                        num_threads=cp.threads, calculate_training_loss=False)
        model.fit(x, show_progress=False)
    return np.asarray(model.user_factors, np.float32), np.asarray(model.item_factors, np.float32)


def fit_cf(pos_users: list[str], pos_items: list[np.ndarray], pos_times: np.ndarray, pos_rows: np.ndarray,
           n_items: int, cut: float, cp: CandidateParams) -> CFModels:
    """Fit the collaborative parts on positive (user, item) events before `cut`.

    pos_items: per user the unique positive item rows; pos_rows/pos_times: every positive event (for
    popularity and last-seen times)."""
    if len(pos_times) and float(np.max(pos_times)) >= cut:
        raise DataError("candidate sources were given an event at or after the phase's cut time")
    x = positive_matrix(pos_users, pos_items, n_items)
    uf, itf = fit_als(x, cp)
    pop = np.bincount(pos_rows, minlength=n_items).astype(np.float64)
    age = (cut - pos_times.astype(np.float64)) / DAY
    dec = np.bincount(pos_rows, weights=np.exp2(-age / cp.half_life_days), minlength=n_items)
    last = np.full(n_items, np.nan)
    if len(pos_rows):
        order = np.argsort(pos_times, kind="stable")
        last[pos_rows[order]] = pos_times[order]  # later events overwrite earlier ones
    return CFModels(cut, item_knn_matrix(x, cp.knn), {u: k for k, u in enumerate(pos_users)}, uf, itf, pop, dec,
                    last)


def source_scores(cf: CFModels, users: list[str], pref: np.ndarray, item_emb: np.ndarray,
                  hist_pos: list[np.ndarray]) -> dict[str, np.ndarray]:
    """Dense scores [U, I] of every source for a chunk of users (higher = better)."""
    n_items = item_emb.shape[0]
    x = positive_matrix(users, hist_pos, n_items)
    rows = np.array([cf.als_user.get(u, -1) for u in users])
    uf = np.where(rows[:, None] >= 0, cf.als_user_f[np.maximum(rows, 0)], 0.0).astype(np.float32)
    return {"content": pref @ item_emb.T,
            "itemknn": np.asarray((x @ cf.item_sim).todense(), dtype=np.float32),
            "als": uf @ cf.als_item_f.T,
            "popularity": np.broadcast_to(cf.pop_decayed.astype(np.float32), (len(users), n_items))}


def content_topn(pref: np.ndarray, item_emb: np.ndarray, n: int, exclude: list[np.ndarray],
                 threads: int = 1) -> np.ndarray:
    """Top-n items per preference vector through an mgw.index exact index, history excluded (over-fetch)."""
    from mgw.index import make_index

    index = make_index("exact", item_emb.shape[1], "cosine", threads=threads)
    index.build(item_emb, [str(i) for i in range(len(item_emb))])
    extra = max((len(e) for e in exclude), default=0)
    ids, _ = index.search(pref, min(n + extra, len(item_emb)))
    out = np.empty((len(pref), n), np.int64)
    for r, row in enumerate(ids):
        rr = np.asarray(row, dtype=np.int64)
        rr = rr[~np.isin(rr, exclude[r])][:n]
        out[r] = -1  # fewer items outside the history than n: padded
        out[r, :len(rr)] = rr
    return out


def topn(scores: np.ndarray, n: int, exclude: list[np.ndarray]) -> np.ndarray:
    """Top-n item rows per row of scores with each row's excluded items removed (−1 pads); ties by item row."""
    s = np.array(scores, dtype=np.float64, copy=True)
    for r, ex in enumerate(exclude):
        s[r, ex] = -np.inf
    n = min(n, s.shape[1])
    part = np.argpartition(-s, n - 1, axis=1)[:, :n]
    ps = np.take_along_axis(s, part, 1)
    order = np.lexsort((part, -ps), axis=1)
    out = np.take_along_axis(part, order, 1)
    out[~np.isfinite(np.take_along_axis(ps, order, 1))] = -1
    return out


def quota_counts(quotas: dict[str, float], c: int) -> dict[str, int]:
    """Integer quotas summing to c (largest remainders), for the sources with a positive share."""
    names = [s for s in SOURCES if quotas.get(s, 0) > 0]
    if not names:
        raise DataError("gnn.candidate_quotas gives no source a positive share")
    w = np.array([quotas[s] for s in names], float)
    raw = w / w.sum() * c
    base = np.floor(raw).astype(int)
    for j in np.argsort(-(raw - base), kind="stable")[: c - base.sum()]:
        base[j] += 1
    return dict(zip(names, base.tolist()))


def union(ranked: dict[str, np.ndarray], quotas: dict[str, int], c: int, strict: bool = True) -> np.ndarray:
    """Per user: each source's best items up to its quota, deduplicated, then round-robin top-up to c.
    Fewer than c distinct items: DataError when strict, else −1 pads (recall curves on small catalogs)."""
    any_src = next(iter(ranked.values()))
    out = np.empty((any_src.shape[0], c), np.int64)
    for r in range(any_src.shape[0]):
        seen: dict[int, None] = {}
        for s, q in quotas.items():
            taken = 0
            for i in ranked[s][r]:
                if taken >= q:
                    break
                if i >= 0 and int(i) not in seen:
                    seen[int(i)] = None
                    taken += 1
        pos = {s: 0 for s in ranked}
        while len(seen) < c:
            moved = False
            for s in ranked:
                lst = ranked[s][r]
                while pos[s] < len(lst) and (lst[pos[s]] < 0 or int(lst[pos[s]]) in seen):
                    pos[s] += 1
                if pos[s] < len(lst) and len(seen) < c:
                    seen[int(lst[pos[s]])] = None
                    moved = True
            if not moved:
                if strict:
                    raise DataError(f"sources offer only {len(seen)} distinct candidates; need {c}")
                break
        row = list(seen)[:c]
        out[r] = -1
        out[r, :len(row)] = row
    return out


def recall(cand: np.ndarray, relevant: list[np.ndarray]) -> np.ndarray:
    """Per user: share of relevant items among the candidates."""
    return np.array([np.isin(rel, c).sum() / len(rel) if len(rel) else 0.0 for c, rel in zip(cand, relevant)])


@dataclass
class CandidateSet:
    cand: np.ndarray  # [U, C] union, in source-interleaved order
    recall: dict[str, dict[str, float]]  # source|union → {"recall@N": mean}


def generate(cf: CFModels, users: list[str], pref: np.ndarray, item_emb: np.ndarray, hist_items: list[np.ndarray],
             hist_pos: list[np.ndarray], relevant: list[np.ndarray] | None, c: int, cp: CandidateParams,
             at: tuple[int, ...] = (50, 100, 200), chunk: int = 256) -> CandidateSet:
    """The union of c candidates per user, plus Recall@N per source and for the union (when `relevant`)."""
    quotas = quota_counts(cp.quotas, c)
    n_max = max(max(at), c)
    outs, rec = [], {s: {n: [] for n in at} for s in (*quotas, "union")}
    for s in range(0, len(users), chunk):
        sl = slice(s, s + chunk)
        scores = source_scores(cf, users[sl], pref[sl], item_emb, hist_pos[sl])
        ranked = {name: topn(scores[name], n_max, hist_items[sl]) for name in quotas if name != "content"}
        if "content" in quotas:
            ranked["content"] = content_topn(pref[sl], item_emb, n_max, hist_items[sl], cp.threads)
        ranked = {name: ranked[name] for name in quotas}
        cand = union(ranked, quotas, c)
        outs.append(cand)
        if relevant is not None:
            rel = relevant[sl]
            for n in at:
                for name in quotas:
                    rec[name][n].append(recall(ranked[name][:, :n], rel))
                rec["union"][n].append(recall(union(ranked, quota_counts(cp.quotas, n), n, strict=False), rel))
    table = {name: {f"recall@{n}": float(np.mean(np.concatenate(v))) for n, v in by_n.items()}
             for name, by_n in rec.items()} if relevant is not None else {}
    return CandidateSet(np.vstack(outs) if outs else np.zeros((0, c), np.int64), table)
