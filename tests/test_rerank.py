import numpy as np
import pandas as pd
import pytest
import torch

from mgw.errors import DataError, DimensionError, UnknownIdError
from mgw.rerank.baselines import utility_scores
from mgw.rerank.dataset import History
from mgw.rerank.evaluate import BASELINES, build_data, per_user_metrics, run
from mgw.rerank.graph import build_graph
from mgw.rerank.metrics import rank_metrics
from mgw.rerank.model import GATReranker
from mgw.rerank.toy import toy_params, write_toy_catalog


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("rerank")
    write_toy_catalog(root / "catalog", n_items=150, dim=32)
    params = toy_params(root)
    res = run(params, out_dir=root / "out", metrics_dir=root / "metrics", transfer=True, progress=False)
    return root, params, res


def test_rank_metrics_known_values():
    ranked = np.array([[5, 1, 7, 2, 3, 4, 6, 8, 9, 10, 11]])
    m = rank_metrics(ranked, [np.array([1, 2])], k=10).iloc[0]
    idcg = 1 + 1 / np.log2(3)
    assert m["ndcg@10"] == pytest.approx((1 / np.log2(3) + 1 / np.log2(5)) / idcg)
    assert m["recall@10"] == 1.0 and m["mrr@10"] == 0.5 and m["hitrate@10"] == 1.0
    assert rank_metrics(ranked, [np.array([99])], k=10).iloc[0].sum() == 0


def test_utility_score_is_the_seed_formula():
    u = utility_scores(np.array([1.0, 0.5]), np.array([0.5, 1.0]), np.array([1.0, 0.0]), np.array([0.0, 1.0]))
    assert u == pytest.approx([0.6 + 0.1 + 0.1, 0.3 + 0.2 - 0.1])


def test_no_test_interaction_leaks_into_training_inputs(tmp_path):
    write_toy_catalog(tmp_path / "catalog", n_items=120, dim=32)
    data, _ = build_data(toy_params(tmp_path))
    ev = data.events
    test_pairs = set(zip(ev.loc[ev.split == "test", "user_id"], data.item_row[(ev.split == "test").to_numpy()]))
    train_only = set(zip(ev.loc[ev.split == "train", "user_id"], data.item_row[(ev.split == "train").to_numpy()]))
    from mgw.rerank.system import train_graph

    graph, _ = train_graph(data, knn=5)
    edges = {(graph.users[u], i) for u, i in zip(graph.ui_user.tolist(), graph.ui_item.tolist())}
    events = {(graph.users[u], i) for u, i in zip(graph.ev_user.tolist(), graph.ev_item.tolist())}
    assert edges <= train_only and events <= train_only
    assert not (edges - train_only) and not ((events & test_pairs) - train_only)
    test = data.phase("test", 50)
    # popularity counts only train+val positives
    assert data.popularity(("train", "val")).sum() < data.popularity(("train", "val", "test")).sum()
    np.testing.assert_array_equal(test.popularity, data.popularity(("train", "val")))
    for u, h, cand, rel in zip(test.users, test.histories, test.cand, test.relevant):
        user_ev = ev[(ev.user_id == u)]
        assert set(h.items) == set(data.item_row[user_ev.index[user_ev.split != "test"]])
        assert not set(cand) & set(h.items)  # candidates exclude history
        assert not set(rel) & set(h.items)


def test_user_from_history_matches_full_graph():
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    emb = rng.normal(size=(30, 16)).astype(np.float32)
    emb /= np.linalg.norm(emb, axis=1, keepdims=True)
    hs = [History(rng.choice(30, 5, replace=False), np.ones(5, np.float32), np.ones(5, bool)) for _ in range(4)]
    g = build_graph([f"u{i}" for i in range(4)], hs, emb, knn=3)
    model = GATReranker(16, 16, heads=8, dropout=0.1).eval()
    x_users = g.user_features()
    h1, h = model(torch.cat([x_users, g.item_emb]), g.edge_index())
    # the inductive pass for user 2 uses the cached item states; user states differ only via item neighbours'
    # layer-1 inputs, which the cache holds exactly
    u = model.user_from_history(x_users[2:3], g.item_emb, h1[4:], torch.from_numpy(np.unique(hs[2].items)),
                                torch.zeros(5, dtype=torch.long))
    torch.testing.assert_close(u[0], h[2], atol=1e-5, rtol=1e-4)


def test_run_writes_per_user_and_summary(trained):
    root, params, res = trained
    pu = pd.read_parquet(root / "out" / "per_user.parquet")
    assert list(pu.columns) == ["ranker", "user_id", "ndcg@10", "recall@10", "mrr@10", "hitrate@10"]
    v = res["model"]["version"]
    assert set(pu.ranker) == {*BASELINES, f"reranker@{v}"}
    assert pu.groupby("ranker").size().nunique() == 1
    assert set(res["rankers"]) == {*BASELINES, "gat"}
    assert 0 <= res["retriever_recall@100"] <= 1 and 0 <= res["union_recall@100"] <= 1
    assert res["significance"]["vs"] in BASELINES
    h = res["headline"]["recommend"]
    for key in ("candidate_recall_at_100", "gat_ndcg10", "best_baseline", "best_baseline_ndcg10", "gat_over_best",
                "p_holm"):
        assert h[key] is not None, key
    assert res["headline"]["rerank_p50_ms"] > 0 and res["verdict"].startswith("recommend:")
    sig = res["tasks"]["recommend"]["significance"]["vs"]
    assert all(sig[b]["p_wilcoxon_holm"] >= sig[b]["p_wilcoxon"] or np.isnan(sig[b]["p_wilcoxon"]) for b in sig)
    assert len(res["tasks"]["recommend"]["gat_seeds"]["ndcg@10"]) == params.gnn.seeds
    assert res["tuning"]["lightgbm"]["budget"] == res["tuning"]["gat"]["budget"] == params.gnn.tune_budget
    assert res["latency"]["rerank_ms"]["n"] == params.gnn.latency_queries
    assert "transferability" in res["transfer"]
    assert (root / "metrics" / "rerank.json").exists()


def test_per_user_metrics_contract(trained):
    root, params, res = trained
    pu = pd.read_parquet(root / "out" / "per_user.parquet")
    for ranker in ("retriever", "utility", "itemknn", "reranker@production", f"reranker@{res['model']['version']}"):
        df = per_user_metrics(ranker, params)
        assert df.index.name == "user_id"
        assert list(df.columns) == ["ndcg@10", "recall@10", "mrr@10", "hitrate@10"]
        name = ranker if not ranker.startswith("reranker@") else f"reranker@{res['model']['version']}"
        ref = pu[pu.ranker == name].set_index("user_id").drop(columns="ranker")
        pd.testing.assert_frame_equal(df.sort_index(), ref.sort_index(), atol=1e-6, check_exact=False)
    with pytest.raises(UnknownIdError, match="unknown ranker"):
        per_user_metrics("bm25", params)
    with pytest.raises(UnknownIdError, match="9.9.9"):
        per_user_metrics("reranker@9.9.9", params)
    other = params.model_copy(update={"seed": params.seed + 1})
    with pytest.raises(DataError, match="trained on data"):
        per_user_metrics("reranker@production", other)


def test_load_reranker_and_rerank(trained):
    root, params, _ = trained
    from mgw.rerank import load_reranker

    rr = load_reranker("production", params)
    user = next(iter(rr.user_row))
    cands = rr.item_ids[:50]
    ids, scores = rr.rerank(user, cands, np.linspace(1, 0, 50), k=10)
    assert len(ids) == 10 and set(ids) <= set(cands) and np.all(np.diff(scores) <= 0)
    ids2, _ = rr.rerank(rr.cache.item_x[0].numpy(), cands, np.linspace(1, 0, 50))
    assert sorted(ids2) == sorted(cands)
    rr.update_user("new-user", cands[:3], [1.0, 1.0, -0.5])
    assert rr.rerank("new-user", cands, np.zeros(50))[0]
    with pytest.raises(UnknownIdError):
        rr.rerank(user, ["ent:nope"], [0.5])
    with pytest.raises(UnknownIdError):
        rr.rerank("stranger", cands, np.zeros(50))
    with pytest.raises(DimensionError):
        rr.rerank(np.ones(3), cands, np.zeros(50))
    with pytest.raises(DataError):
        rr.rerank(user, cands, np.zeros(3))
    with pytest.raises(UnknownIdError, match="candidate"):
        load_reranker("candidate", registry_dir=root / "empty")


def test_numpy_user_update_matches_torch(trained):
    root, params, _ = trained
    from mgw.rerank import load_reranker

    rr = load_reranker("production", params)
    rng = np.random.default_rng(1)
    items = np.unique(rng.choice(len(rr.item_ids), 6, replace=False))
    pref = rr.cache.item_x[items].numpy().sum(0)
    pref /= np.linalg.norm(pref)
    with torch.no_grad():
        ref = rr.model.user_from_history(torch.from_numpy(pref)[None].float(), rr.cache.item_x, rr.cache.item_h1,
                                         torch.from_numpy(items), torch.zeros(len(items), dtype=torch.long))[0]
    np.testing.assert_allclose(rr._user_from_history(pref.astype(np.float32), items), ref.numpy(), rtol=1e-4,
                               atol=1e-5)


def test_served_score_is_the_training_formula(trained):
    """The numpy scorer that serves requests equals GATReranker.score (the formula is written once)."""
    root, params, _ = trained
    from mgw.rerank import load_reranker

    rr = load_reranker("production", params)
    rng = np.random.default_rng(2)
    user = next(iter(rr.user_row))
    rows = rng.choice(len(rr.item_ids), 30, replace=False)
    sim = rng.random(30).astype(np.float32)
    hu, ctx = rr._user(user)
    feats = rr.space.features(ctx, rows, sim)
    with torch.no_grad():
        ref = rr.model.score(torch.from_numpy(hu)[None].float(), torch.from_numpy(rr._item_v[rows])[None],
                             torch.from_numpy(feats)[None])[0].numpy()
    _, got = rr.rerank(user, [rr.item_ids[r] for r in rows], sim)
    np.testing.assert_allclose(np.sort(got)[::-1], np.sort(ref)[::-1], rtol=1e-4, atol=1e-5)


RANX_SCRIPT = """
import json, sys
import ranx
users, ranked, relevant = json.loads(sys.stdin.read())
qrels = ranx.Qrels({u: {str(i): 1 for i in rel} for u, rel in zip(users, relevant)})
run = ranx.Run({u: {str(i): float(100 - j) for j, i in enumerate(r)} for u, r in zip(users, ranked)})
print(json.dumps(ranx.evaluate(qrels, run, ["ndcg@10", "recall@10", "mrr@10", "hit_rate@10"])))
"""


def test_metrics_match_ranx():
    """NDCG@10, Recall@10, MRR@10, HitRate@10 of one run of ranked lists agree with ranx on the same lists.
    ranx runs in a child process with numba's JIT off (NUMBA_DISABLE_JIT is read when numba is imported):
    JIT-compiling its kernels cost ~2 min of CI for 60 tiny lists; as plain Python they take milliseconds."""
    import json
    import os
    import subprocess
    import sys

    pytest.importorskip("ranx")
    rng = np.random.default_rng(3)
    users = [f"u{i}" for i in range(60)]
    ranked = np.stack([rng.permutation(100)[:20] for _ in users])
    relevant = [rng.choice(100, int(rng.integers(1, 12)), replace=False) for _ in users]
    ours = rank_metrics(ranked, relevant, 10).mean()
    out = subprocess.run([sys.executable, "-c", RANX_SCRIPT], check=True, capture_output=True, text=True,
                         input=json.dumps([users, ranked.tolist(), [r.tolist() for r in relevant]]),
                         env={**os.environ, "NUMBA_DISABLE_JIT": "1"}, timeout=300)
    theirs = json.loads(out.stdout.strip().splitlines()[-1])
    assert ours["ndcg@10"] == pytest.approx(theirs["ndcg@10"], abs=1e-9)
    assert ours["recall@10"] == pytest.approx(theirs["recall@10"], abs=1e-9)
    assert ours["mrr@10"] == pytest.approx(theirs["mrr@10"], abs=1e-9)
    assert ours["hitrate@10"] == pytest.approx(theirs["hit_rate@10"], abs=1e-9)
