"""The personalised-search task (seed §3.1.2): the query fixes *what kind*, the reranker finds *which ones*.

For a test user, one of the user's future positives that is in the catalog is drawn (seeded) and a query is
written from one of its attributes by a fixed template: its genre ("comedy"), genre and decade ("comedy from
the 1990s"), or type and decade ("movies from the 1990s"). The query goes through `mgw.query.parse` and the real
search pipeline (filters inside the ANN, top-`candidates`); relevant = the user's future positives that satisfy
the parsed filters. A template is used only when the drawn item satisfies the filters the parser read from it; queries matching fewer than `candidates` titles are dropped (counted), so every list
has the same length. The pipeline comes in as an argument (search sits above this layer).
"""
from __future__ import annotations

from typing import Any

import numpy as np

from mgw.hypergraph.expr import compile_query
from mgw.query import GENRE_WORDS, parse
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

    def rerank(self, user, candidate_ids, candidate_scores, k=None, query_vector=None):
        self.last = (list(candidate_ids), np.asarray(candidate_scores, np.float32))
        return list(candidate_ids), np.asarray(candidate_scores, float)


def search_phase(test: Phase, item_ids: list[str], item_type: list[Any], pipeline: Any, n_users: int, seed: int
                 ) -> tuple[Phase | None, dict]:
    """The search task's phase over the recommend test phase's users (same histories, features space)."""
    rng = np.random.default_rng(seed)
    row_of = {e: i for i, e in enumerate(item_ids)}
    store_row = pipeline.store.index
    cap = _Capture()
    pipe = pipeline.replace(reranker=cap)
    c = pipe.candidates
    keep, cands, sims, rels, queries = [], [], [], [], []
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
        keep.append(k)
        cands.append([row_of[i] for i in ids[:c]])
        sims.append(s[:c])
        rels.append(np.array([r for r in test.relevant[k] if item_ids[r] in allowed], dtype=np.int64))
        queries.append(q)
    info = {"users": len(keep), "dropped": dropped, "templates": list(TEMPLATES), "candidates": c}
    if not keep:
        return None, info
    sub = test.subset(np.array(keep))
    cand = np.asarray(cands, dtype=np.int64)
    sim = np.asarray(sims, dtype=np.float32)
    sub.cand, sub.cand_sim, sub.relevant, sub.task, sub.queries = cand, sim, rels, "search", queries
    sub.features = test.space.batch(sub.contexts, cand, sim)
    rec = float(np.mean([np.isin(r, cc).sum() / len(r) for r, cc in zip(rels, cand)]))
    sub.candidate_recall = {"pipeline": {f"recall@{c}": rec}}
    return sub, info


def sorted_genres(space) -> list[str]:
    """Genre names in the column order of the feature space's item × genre matrix."""
    return space.genre_names
