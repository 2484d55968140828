"""The personalised-search task (seed §3.1.2): the query fixes *what kind*, the reranker finds *which ones*.

For a test user, one of the user's future positives that is in the catalog is drawn (seeded) and a query is
written from one of its attributes by a fixed template: its genre ("comedy"), genre and decade ("comedy from
the 1990s"), or type and decade ("movies from the 1990s"). The query goes through `mgw.query.parse` and the real
search pipeline (filters inside the ANN, top-`candidates`); relevant = the user's future positives that satisfy
the parsed filters. A template is used only when the drawn item satisfies the filters the parser read from it; queries matching fewer than `candidates` titles are dropped (counted), so every list
has the same length. The pipeline comes in as an argument (search sits above this layer).

Candidates (`gnn.search_candidates`): `pipeline` = the pipeline's top-`candidates` for the query alone; `union`
(default) = the recommend task's quotas with the query's ANN results in the content source's place and the
collaborative sources (item-kNN, ALS, decayed popularity) restricted to the titles that satisfy the parsed
filters — query-filtered personal retrieval, so the list holds titles of the asked-for kind that this user may
want. Every candidate satisfies the filters either way; history items are excluded from the union.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from mgw.hypergraph.expr import compile_query
from mgw.query import GENRE_WORDS, parse
from mgw.rerank.candidates import SOURCES, quota_counts, recall, source_scores, topn, union
from mgw.rerank.dataset import Phase

TEMPLATES = ("{genre}", "{genre} from the {decade}s", "{type}s from the {decade}s")
TYPE_WORDS = {"movie": "movie", "series": "series", "tv show": "series", "show": "series"}


def genre_words() -> dict[str, str]:
    """canonical genre → the shortest query word that the parser maps to exactly that genre."""
    out: dict[str, str] = {}
    for word, gs in sorted(GENRE_WORDS.items(), key=lambda kv: (len(kv[0]), kv[0])):
        if len(gs) == 1 and gs[0] not in out and " " not in word:
            out[gs[0]] = word
    return out


def queries_for(genres: list[str], year: float, kind: str | None, rng: np.random.Generator) -> list[str]:
    """Candidate queries for one item, in a seeded random order of templates."""
    words = genre_words()
    decade = int(year // 10 * 10) if np.isfinite(year) else None
    out = []
    for t in rng.permutation(len(TEMPLATES)):
        tpl = TEMPLATES[t]
        gs = [g for g in genres if g in words]
        if "{genre}" in tpl and not gs:
            continue
        if "{decade}" in tpl and decade is None:
            continue
        if "{type}" in tpl and kind not in ("movie", "series"):
            continue
        g = gs[int(rng.integers(len(gs)))] if gs else ""
        out.append(tpl.format(genre=words.get(g, ""), decade=decade, type="movie" if kind == "movie" else "serie"))
    return out


def _kind(value: Any) -> str | None:
    v = str(value).strip().lower() if value is not None else ""
    return "movie" if v == "movie" else "series" if v in ("series", "tv show", "tv") else None


class _Capture:
    """A reranker that keeps the pipeline's candidates as they came (order and scores)."""

    version = "capture"

    def __init__(self):
        self.last: tuple[list[str], np.ndarray] | None = None
        self.vector: np.ndarray | None = None

    def rerank(self, user, candidate_ids, candidate_scores, k=None, query_vector=None):
        self.last = (list(candidate_ids), np.asarray(candidate_scores, np.float32))
        self.vector = None if query_vector is None else np.asarray(query_vector, np.float32)
        return list(candidate_ids), np.asarray(candidate_scores, float)


def search_phase(test: Phase, item_ids: list[str], item_type: list[Any], pipeline: Any, n_users: int, seed: int,
                 quotas: dict[str, float] | None = None) -> tuple[Phase | None, dict]:
    """The search task's phase over the recommend test phase's users (same histories, features space).
    `quotas` (the recommend union's; None = the pipeline's list alone): see the module docstring."""
    rng = np.random.default_rng(seed)
    row_of = {e: i for i, e in enumerate(item_ids)}
    store_row = pipeline.store.index
    cap = _Capture()
    pipe = pipeline.replace(reranker=cap)
    c = pipe.candidates
    keep, cands, sims, rels, queries, pipe_rows = [], [], [], [], [], []
    dropped = {"no_catalog_positive": 0, "no_template": 0, "too_few_matches": 0}
    for k in rng.permutation(len(test.users)):
        if len(keep) >= n_users:
            break
        in_cat = [r for r in test.relevant[k] if item_ids[r] in store_row]
        if not in_cat:
            dropped["no_catalog_positive"] += 1
            continue
        target = int(in_cat[int(rng.integers(len(in_cat)))])
        sp = test.space
        gen = [g for g, w in zip(sorted_genres(sp), sp.item_genre[target]) if w > 0]
        chosen = None
        for q in queries_for(gen, float(sp.release_year[target]), _kind(item_type[target]), rng):
            parsed = parse(q)
            idx = pipeline.store.indices(compile_query(parsed))
            allowed = set(pipeline.store.ids[idx].tolist())
            if item_ids[target] in allowed:
                chosen = (q, parsed, allowed)
                break
        if chosen is None:
            dropped["no_template"] += 1
            continue
        q, parsed, allowed = chosen
        if len(allowed) < c:
            dropped["too_few_matches"] += 1
            continue
        pipe.search(q, user=None, k=c, parsed=parsed)
        ids, s = cap.last
        if len(ids) < c:
            dropped["too_few_matches"] += 1
            continue
        rows = np.array([row_of[i] for i in ids[:c]], dtype=np.int64)
        sim = np.asarray(s[:c], np.float32)
        if quotas is not None:
            qvec = cap.vector
            ok = np.array([row_of[i] for i in allowed if i in row_of], dtype=np.int64)
            rows = personal_union(test, k, rows, ok, quotas, c)
            if rows is None:
                dropped["too_few_matches"] += 1
                continue
            sim = (test.space.item_emb[rows] @ qvec).astype(np.float32)
        keep.append(k)
        pipe_rows.append([row_of[i] for i in ids[:c]])
        cands.append(rows)
        sims.append(sim)
        rels.append(np.array([r for r in test.relevant[k] if item_ids[r] in allowed], dtype=np.int64))
        queries.append(q)
    info = {"users": len(keep), "dropped": dropped, "templates": list(TEMPLATES), "candidates": c,
            "candidate_sources": "pipeline" if quotas is None else {"union of": "pipeline (content's quota) + "
                                                                    "filtered item-kNN / ALS / popularity",
                                                                    "quotas": dict(quotas)}}
    if not keep:
        return None, info
    sub = test.subset(np.array(keep))
    cand = np.asarray(cands, dtype=np.int64)
    sim = np.asarray(sims, dtype=np.float32)
    sub.cand, sub.cand_sim, sub.relevant, sub.task, sub.queries = cand, sim, rels, "search", queries
    sub.features = test.space.batch(sub.contexts, cand, sim)
    sub.candidate_recall = {"pipeline": {f"recall@{c}": float(recall(np.asarray(pipe_rows), rels).mean())}}
    if quotas is not None:
        sub.candidate_recall["union"] = {f"recall@{c}": float(recall(cand, rels).mean())}
    return sub, info


def personal_union(test: Phase, k: int, pipeline_rows: np.ndarray, allowed_rows: np.ndarray,
                   quotas: dict[str, float], c: int) -> np.ndarray | None:
    """One user's search candidates: the pipeline's rows in the content source's quota, the collaborative
    sources' best rows among `allowed_rows` in theirs (history excluded); None when fewer than c distinct."""
    cf, hist = test.space.cf, test.histories[k]
    scores = source_scores(cf, [test.users[k]], test.pref[k:k + 1], test.space.item_emb, [hist.positive_items])
    mask = np.full(test.space.item_emb.shape[0], -np.inf)
    mask[allowed_rows] = 0.0
    ranked = {"content": pipeline_rows[~np.isin(pipeline_rows, hist.items)][None]}
    for name in SOURCES:
        if name != "content" and quotas.get(name, 0) > 0:
            ranked[name] = topn((scores[name][0] + mask)[None], c, [hist.items])
    q = quota_counts(quotas, c)
    out = union({n: ranked[n] for n in q}, q, c, strict=False)[0]
    return None if (out < 0).any() else out


def sorted_genres(space) -> list[str]:
    """Genre names in the column order of the feature space's item × genre matrix."""
    return space.genre_names
