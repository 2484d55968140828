"""Issue 14's protocol: splits without leakage, candidate sources and their union, the search-task queries."""
import numpy as np
import pandas as pd
import pytest

from mgw.data.interactions import global_cut_times, global_temporal_split, split_events, temporal_split
from mgw.errors import DataError
from mgw.query import parse
from mgw.rerank.candidates import CandidateParams, fit_cf, quota_counts, recall, topn, union
from mgw.rerank.evaluate import build_data
from mgw.rerank.metrics import holm
from mgw.rerank.search_task import TEMPLATES, genre_words, queries_for
from mgw.rerank.toy import toy_params, write_toy_catalog


def _events(n_users=30, per_user=20, seed=0):
    rng = np.random.default_rng(seed)
    rows = []
    for u in range(n_users):
        start = int(rng.integers(0, 10_000))
        for j in range(per_user):
            rows.append((f"u{u}", f"i{int(rng.integers(50))}", "watch", start + j * int(rng.integers(1, 500)), np.nan))
    return pd.DataFrame(rows, columns=["user_id", "entity_id", "event", "timestamp", "rating"])


def test_global_split_has_one_cut_for_everyone():
    ev = _events()
    df = global_temporal_split(ev, 0.1, 0.2)
    cuts = global_cut_times(ev, 0.1, 0.2)
    t = df.groupby("split")["timestamp"]
    assert t.max()["train"] < cuts["val"] <= t.min()["val"] and t.max()["val"] < cuts["test"] <= t.min()["test"]
    # some users have no test events at all (their activity ended before the cut): what a global split means
    assert df.groupby("user_id")["split"].apply(lambda s: "test" in set(s)).mean() < 1
    assert abs((df.split == "test").mean() - 0.2) < 0.05


def test_per_user_split_lets_one_users_future_precede_anothers_training():
    """Why the global split exists: per user, test follows train, but across users it need not."""
    df = temporal_split(_events(), 0.1, 0.2)
    for _, g in df.groupby("user_id"):
        assert g[g.split == "train"].timestamp.max() <= g[g.split == "test"].timestamp.min()
    assert df[df.split == "test"].timestamp.min() < df[df.split == "train"].timestamp.max()
    with pytest.raises(DataError, match="unknown split"):
        split_events(_events(), "random", 0.1, 0.2)
    with pytest.raises(DataError, match="bad split"):
        global_temporal_split(_events(), 0.5, 0.5)


@pytest.mark.parametrize("split", ["per_user", "global"])
def test_phase_inputs_lie_before_the_cut(tmp_path, split):
    write_toy_catalog(tmp_path / "catalog", n_items=120, dim=32)
    params = toy_params(tmp_path, users=40, events=30, split=split)
    data, stats = build_data(params)
    assert stats["split"] == split
    ev = data.events
    test = data.phase("test", 40)
    cut = test.space.cf.cut
    assert ev.loc[ev.split.isin(["train", "val"]), "timestamp"].max() < cut
    if split == "global":  # one cut: every test event of every user is at or after it
        assert ev.loc[ev.split == "test", "timestamp"].min() >= cut - 1
    # the features' popularity counts only events before the cut
    np.testing.assert_array_equal(test.space.cf.pop, data.popularity(("train", "val")))
    for h, cand, rel in zip(test.histories, test.cand, test.relevant):
        assert len(set(cand)) == len(cand)  # deduplicated union
        assert not set(cand) & set(h.items) and not set(rel) & set(h.items)
    rec = test.candidate_recall
    assert set(rec) == {"content", "itemknn", "als", "popularity", "union"}
    assert all(0 <= rec[s]["recall@50"] <= rec[s]["recall@100"] <= rec[s]["recall@200"] <= 1 for s in rec)


def test_fit_cf_refuses_an_event_at_the_cut():
    with pytest.raises(DataError, match="cut time"):
        fit_cf(["u"], [np.array([1])], np.array([100]), np.array([1]), 5, 100.0, CandidateParams())


def test_union_quotas_dedup_and_top_up():
    assert quota_counts({"content": 0.2, "itemknn": 0.3, "als": 0.3, "popularity": 0.2}, 7) == \
        {"content": 2, "itemknn": 2, "als": 2, "popularity": 1}  # largest remainder, ties to the first
    assert sum(quota_counts({"content": 1, "als": 1, "popularity": 1}, 100).values()) == 100
    ranked = {"content": np.array([[1, 2, 3, 4]]), "als": np.array([[1, 5, 6, 7]]), "popularity": np.array([[2, 1, 8, 9]])}
    out = union(ranked, {"content": 2, "als": 2, "popularity": 2}, 6)
    assert list(out[0]) == [1, 2, 5, 6, 8, 9]
    with pytest.raises(DataError, match="distinct"):
        union(ranked, {"content": 1, "als": 1, "popularity": 1}, 20)
    s = np.array([[0.1, 0.9, 0.5, 0.9]])
    assert list(topn(s, 2, [np.array([1])])[0]) == [3, 2]
    assert recall(np.array([[1, 2]]), [np.array([2, 3])])[0] == 0.5


def test_search_templates_parse_back_to_their_filters():
    rng = np.random.default_rng(0)
    words = genre_words()
    assert {"comedy", "drama", "horror"} <= set(words)
    for g, w in words.items():
        assert parse(w)["genres"]["all"] == [g], (g, w)
    qs = queries_for(["comedy"], 1994.0, "movie", rng)
    assert len(qs) == len(TEMPLATES)
    for q in qs:
        p = parse(q)
        if "1990s" in q:
            assert p["year"] == {"min": 1990, "max": 1999}, q
        if q.startswith("movie"):
            assert p["type"] == "movie"
        else:
            assert p["genres"]["all"] == ["comedy"]
    assert queries_for([], float("nan"), None, rng) == []


def test_holm_known_values():
    np.testing.assert_allclose(holm([0.01, 0.04, 0.03]), [0.03, 0.06, 0.06])
    assert holm([]).size == 0


def test_search_task_through_a_real_pipeline():
    """Templated queries go through SearchPipeline; relevant items satisfy the parsed filters; lists are full."""
    from mgw.data.interactions import catalog_items, simulate_users, temporal_split
    from mgw.hypergraph.expr import compile_query
    from mgw.rerank.dataset import RerankData
    from mgw.rerank.search_task import search_phase
    from test_search import small_pipeline

    pipe, cat, vectors = small_pipeline(1500, candidates=30)
    store = pipe.store
    items = catalog_items(cat, vectors, list(cat.entity_id))
    ev = temporal_split(simulate_users(items, 60, 40, seed=3), 0.1, 0.2)
    data = RerankData(items, ev, CandidateParams(knn=20, als_factors=8, als_iterations=3))
    test = data.phase("test", 30, with_recall=False)
    phase, info = search_phase(test, items.ids, list(cat["type"]), pipe, 20, seed=1)
    assert phase is not None and info["users"] == len(phase.users) > 0
    assert phase.cand.shape == (len(phase.users), 30) and phase.features.shape[:2] == phase.cand.shape
    for q, rel, cand in zip(phase.queries, phase.relevant, phase.cand):
        allowed = set(store.ids[store.indices(compile_query(parse(q)))])
        assert len(rel) and all(items.ids[r] in allowed for r in rel)
        assert all(items.ids[c] in allowed for c in cand)  # filters applied inside the ANN
    assert 0 < phase.candidate_recall["pipeline"]["recall@30"] <= 1
    # union: query ANN in the content quota + CF sources filtered to the query's titles, history excluded
    quotas = {"content": 0.4, "itemknn": 0.2, "als": 0.3, "popularity": 0.1}
    uphase, uinfo = search_phase(test, items.ids, list(cat["type"]), pipe, 20, seed=1, quotas=quotas)
    assert uphase.queries == phase.queries and uinfo["candidate_sources"]["quotas"] == quotas
    for k, (q, cand) in enumerate(zip(uphase.queries, uphase.cand)):
        allowed = set(store.ids[store.indices(compile_query(parse(q)))])
        assert len(set(cand.tolist())) == 30 and all(items.ids[c] in allowed for c in cand)
        assert not np.isin(cand, uphase.histories[k].items).any()
        np.testing.assert_allclose(uphase.cand_sim[k], uphase.features[k, :, 0], atol=1e-6)
    assert uphase.candidate_recall["pipeline"] == phase.candidate_recall["pipeline"]
    assert 0 < uphase.candidate_recall["union"]["recall@30"] <= 1
