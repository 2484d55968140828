"""The rerank experiment: build interactions, train the GAT, score every ranker on the same test
candidates, test significance, run the genre-transfer experiment, benchmark latency, register the model.

Outputs: reports/metrics/rerank.json (summary with CIs and provenance), reports/rerank/per_user.parquet
(long: ranker, user_id, ndcg@10, recall@10, mrr@10, hitrate@10; consumed by the A/B area),
reports/rerank/history.csv (training curve), models/reranker/<semver>/ (registry). With
gnn.interactions=movielens: the same files, with `interactions.source` saying which data they hold.
"""
from __future__ import annotations

import hashlib
import json
import logging
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from mgw import claims as seed_claims
from mgw.config import ROOT, Params, data_dir
from mgw.data.interactions import catalog_items, load_movielens, simulate_users, temporal_split
from mgw.errors import DataError, UnknownIdError
from mgw.rerank import baselines
from mgw.rerank.dataset import Phase, RerankData
from mgw.rerank.inference import Reranker, score_phase, user_states
from mgw.rerank.metrics import METRICS, bootstrap_ci, paired_test, rank_metrics, ranking_from_scores
from mgw.rerank.model import GATReranker
from mgw.rerank.registry import Registry

log = logging.getLogger(__name__)
BASELINES = ("retriever", "popularity", "utility", "lightgcn")
REPORT_DIR = ROOT / "reports" / "rerank"


# --------------------------------------------------------------------------- data
def _path(p: str | Path) -> Path:
    p = Path(p)
    return p if p.is_absolute() else ROOT / p


def load_catalog(catalog_dir: str | Path):
    from mgw.data.stages import load_processed

    catalog, ids, emb = load_processed(_path(catalog_dir))
    return catalog, catalog_items(catalog, emb, ids)


def _embed_fn(params: Params):
    """MiniLM embeddings for unmatched MovieLens titles (the Embedder caches by text under embed.cache_dir)."""
    def embed(texts: list[str]) -> np.ndarray:
        from mgw.embed import Embedder

        return Embedder.from_params(params.embed).encode(texts)
    return embed


def build_data(params: Params) -> tuple[RerankData, dict]:
    """Interactions (simulated users or MovieLens, per gnn.interactions) split by time, over catalog items."""
    gp = params.gnn
    catalog, items = load_catalog(gp.catalog_dir)
    if gp.interactions == "simulated":
        events = simulate_users(items, params.simulated.syntheticUsers, params.simulated.eventsPerUser, params.seed)
        stats = {"source": "simulated", "users": int(events["user_id"].nunique()), "interactions": int(len(events))}
    else:
        ml_dir = data_dir(params) / "movielens" / "ml-latest-small"
        events, items, stats = load_movielens(ml_dir, items, catalog, _embed_fn(params),
                                              params.resolve.title_threshold, params.resolve.year_tolerance)
        stats["source"] = "movielens"
    return RerankData(items, temporal_split(events, gp.val_frac, gp.test_frac)), stats


def params_hash(params: Params) -> str:
    keep = {"seed": params.seed, "gnn": params.gnn.model_dump(exclude={"modelVersion", "registry_dir"})}
    return hashlib.sha256(json.dumps(keep, sort_keys=True).encode()).hexdigest()[:16]


# --------------------------------------------------------------------------- scoring
def metrics_frame(ranker: str, phase: Phase, scores: np.ndarray, k: int) -> pd.DataFrame:
    df = rank_metrics(ranking_from_scores(phase.cand, scores), phase.relevant, k)
    df.insert(0, "user_id", phase.users)
    df.insert(0, "ranker", ranker)
    return df


def baseline_scores(name: str, phase: Phase, data: RerankData, params: Params) -> np.ndarray:
    if name == "retriever":
        return baselines.score_retriever(phase, data)
    if name == "popularity":
        return baselines.score_popularity(phase, data)
    if name == "utility":
        return baselines.score_utility(phase, data)
    if name == "lightgcn":
        gp = params.gnn
        splits = ("train",) if phase.name == "val" else ("train", "val")
        return baselines.LightGCNRanker(gp.lightgcn_dim, epochs=gp.lightgcn_epochs, seed=params.seed,
                                        threads=gp.threads).fit(data, splits).score(phase, data)
    raise UnknownIdError(f"unknown ranker {name!r} (known: {', '.join(BASELINES)}, reranker@<version|alias>)")


def reranker_scores(rr: Reranker, phase: Phase, data: RerankData) -> np.ndarray:
    missing = [u for u in phase.users if u not in rr.user_row]
    if missing:
        raise DataError(f"reranker {rr.version} has no state for {len(missing)} test users (e.g. {missing[0]}); "
                        f"it was trained on other interactions")
    hu = np.stack([rr.user_vector(u) for u in phase.users])
    ids = np.asarray(rr.item_ids)
    if ids.shape[0] != len(data.items.ids) or list(ids[:50]) != data.items.ids[:50]:
        raise DataError(f"reranker {rr.version} was trained on a different item set")
    h = rr._item_h[phase.cand]
    return (np.einsum("uch,uh->uc", h, hu) * rr._scale + rr._w * phase.cand_sim
            + rr._w_pop * np.log1p(phase.popularity[phase.cand]))


def summarize(per_user: pd.DataFrame, n_boot: int, seed: int) -> dict:
    out = {}
    for ranker, g in per_user.groupby("ranker", sort=False):
        out[ranker] = {m: {"mean": float(g[m].mean()), "ci95": bootstrap_ci(g[m].to_numpy(), n_boot, seed)}
                       for m in METRICS}
    return out


def coverage(phase: Phase, scores: np.ndarray, n_items: int, k: int) -> float:
    return float(len(np.unique(ranking_from_scores(phase.cand, scores)[:, :k])) / n_items)


# --------------------------------------------------------------------------- registry glue
def load_reranker(ref: str = "production", params: Params | None = None, registry_dir: str | Path | None = None
                  ) -> Reranker:
    """A served reranker from the registry; UnknownIdError if the alias/version does not exist."""
    root = _path(registry_dir or (params.gnn.registry_dir if params else "models/reranker"))
    state, cache, parts = Registry(root).load(ref)
    cfg = parts["config"]
    model = GATReranker(cfg["input_dim"], cfg["hidden_dim"], cfg["heads"], cfg["dropout"])
    model.load_state_dict(state)
    from mgw.rerank.inference import NodeCache

    nc = NodeCache(cache["item_x"], cache["item_h1"], cache["item_h"])
    rr = Reranker(model, parts["items"], nc, parts["users"], cache["user_h"], cache["popularity"].numpy(),
                  version=parts["version"])
    rr.lineage = parts["lineage"]
    return rr


def per_user_metrics(ranker: str, params: Params, data: RerankData | None = None,
                     registry_dir: str | Path | None = None) -> pd.DataFrame:
    """Test-split metrics per user (index user_id; columns ndcg@10, recall@10, mrr@10, hitrate@10) for
    "retriever", "popularity", "utility", "lightgcn" or "reranker@<semver|production|candidate>"."""
    if not (ranker in BASELINES or ranker.startswith("reranker@")):
        raise UnknownIdError(f"unknown ranker {ranker!r} (known: {', '.join(BASELINES)}, reranker@<version|alias>)")
    rr = load_reranker(ranker, params, registry_dir) if ranker.startswith("reranker@") else None
    data = data or build_data(params)[0]
    if rr is not None and rr.lineage.get("data_hash") != data.fingerprint():
        raise DataError(f"{ranker} (version {rr.version}) was trained on data {rr.lineage.get('data_hash')} "
                        f"({rr.lineage.get('interactions')}); these params give data {data.fingerprint()}, so its "
                        f"test metrics would not be comparable (or would leak)")
    phase = data.phase("test", params.gnn.candidates)
    scores = reranker_scores(rr, phase, data) if rr else baseline_scores(ranker, phase, data, params)
    return metrics_frame(ranker, phase, scores, params.gnn.k).drop(columns="ranker").set_index("user_id")


# --------------------------------------------------------------------------- the experiment
def _transfer(data: RerankData, test: Phase, params: Params, log_dir: Path, full_scores: np.ndarray) -> dict:
    """Train without interactions on items of gnn.transfer_genres; NDCG@10 on those genres / in-domain."""
    from mgw.rerank.system import fit_gat

    held = set(params.gnn.transfer_genres)
    if not held:
        return {"skipped": "gnn.transfer_genres is empty"}
    in_held = np.array([bool(held & set(g)) for g in data.items.genres])
    ev = data.events
    drop = in_held[data.item_row] & ev["split"].isin(["train", "val"]).to_numpy()
    sub = RerankData(data.items, ev[~drop].reset_index(drop=True))
    model, _, cache, rec = fit_gat(sub, params.gnn, params.seed, log_dir / "transfer",
                                   sub.phase("val", params.gnn.candidates), progress=False)
    scores = score_phase(model, cache, test)

    def split_ndcg(sc: np.ndarray) -> dict:
        ranked = ranking_from_scores(test.cand, sc)
        res = {}
        for name, want in (("held_out", True), ("in_domain", False)):
            rel = [r[in_held[r] == want] for r in test.relevant]
            rows = [i for i, r in enumerate(rel) if len(r)]
            res[name] = {"ndcg@10": float(rank_metrics(ranked[rows], [rel[i] for i in rows], params.gnn.k)
                                          .iloc[:, 0].mean()) if rows else float("nan"), "users": len(rows)}
        res["ratio"] = res["held_out"]["ndcg@10"] / res["in_domain"]["ndcg@10"] if res["in_domain"]["ndcg@10"] else None
        return res

    return {"held_out_genres": sorted(held), "dropped_train_events": int(drop.sum()),
            "model_without_genres": split_ndcg(scores), "model_with_all_genres": split_ndcg(full_scores),
            "transferability": split_ndcg(scores)["ratio"], "seed_claim": seed_claims.value("s1.1.2-transfer"), "best_epoch": rec["best_epoch"]}


def run(params: Params, out_dir: str | Path | None = None, registry_dir: str | Path | None = None,
        metrics_dir: str | Path | None = None, transfer: bool = True, progress: bool = True) -> dict:
    """`mgw train`: the whole experiment; returns the summary written to reports/metrics/rerank.json."""
    from mgw.rerank.latency import bench_latency
    from mgw.rerank.system import fit_gat
    from mgw.reporting import write_metrics

    gp = params.gnn
    torch.set_num_threads(gp.threads)
    out_dir = _path(out_dir or REPORT_DIR)  # one stage, one set of outputs, whatever gnn.interactions says
    out_dir.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    data, stats = build_data(params)
    val, test = data.phase("val", gp.candidates), data.phase("test", gp.candidates)
    log.info("rerank data: %s; val users %d, test users %d", stats, len(val.users), len(test.users))
    model, graph, cache, record = fit_gat(data, gp, params.seed, out_dir / "lightning", val, progress)
    t_train = time.perf_counter() - t0
    pd.DataFrame(record["history"]).to_csv(out_dir / "history.csv", index=False)

    gat_scores = score_phase(model, cache, test)
    frames, covs, all_scores = [], {}, {}
    for name in BASELINES:
        all_scores[name] = baseline_scores(name, test, data, params)
    all_scores["gat"] = gat_scores
    for name, sc in all_scores.items():
        frames.append(metrics_frame(name, test, sc, gp.k))
        covs[name] = coverage(test, sc, len(data.items.ids), gp.k)
    per_user = pd.concat(frames, ignore_index=True)
    summary = summarize(per_user, gp.bootstrap, params.seed)
    for name in summary:
        summary[name]["coverage@10"] = covs[name]
    ceiling = float(np.mean([np.isin(r, c).sum() / len(r) for r, c in zip(test.relevant, test.cand)]))
    best = max(BASELINES, key=lambda b: summary[b]["ndcg@10"]["mean"])
    g, b = (per_user[per_user.ranker == n].set_index("user_id")["ndcg@10"] for n in ("gat", best))
    sig = paired_test(g.to_numpy(), b.loc[g.index].to_numpy(), gp.bootstrap, params.seed)
    sig.update({"vs": best, "metric": "ndcg@10",
                "gat_better_p_lt_0_05": bool(sig["mean_diff"] > 0 and sig["p_wilcoxon"] < 0.05)})

    # Registry: node states for every user with a train+val history, so the served model knows them.
    hist_all = data.histories(("train", "val"))
    users = [u for u in sorted(hist_all) if np.any(hist_all[u].weights > 0)]
    from mgw.rerank.dataset import preference_vectors

    hs = [hist_all[u] for u in users]
    user_h = user_states(model, cache, hs, preference_vectors(data.items.embeddings, hs))
    popularity = data.popularity(("train", "val"))
    rr_probe = Reranker(model, data.items.ids, cache, users, user_h, popularity)
    latency = bench_latency(rr_probe, test, data, gp.latency_queries, params.seed)
    transfer_res = _transfer(data, test, params, out_dir / "lightning", gat_scores) if transfer else {
        "skipped": "disabled"}

    gat_m = summary["gat"]
    reg_metrics = {"ndcg@10": gat_m["ndcg@10"]["mean"], "recallAt10": gat_m["recall@10"]["mean"],
                   "mrr@10": gat_m["mrr@10"]["mean"], "hitrate@10": gat_m["hitrate@10"]["mean"],
                   "transferability": transfer_res.get("transferability"),
                   "forwardPassLatency": latency["rerank_ms"]["p50"], "best_baseline": best,
                   "p_vs_best_baseline": sig["p_wilcoxon"], "test_users": len(test.users)}
    from mgw.provenance import git_commit

    lineage = {"data_hash": data.fingerprint(), "params_hash": params_hash(params), "interactions": gp.interactions,
               "git_commit": git_commit(), "seed": params.seed}
    registry = Registry(_path(registry_dir or gp.registry_dir))
    version = registry.save(
        model.state_dict(), {"item_x": cache.item_x, "item_h1": cache.item_h1, "item_h": cache.item_h,
                             "user_h": user_h, "popularity": torch.from_numpy(popularity).float()},
        items=data.items.ids, users=users, config={**model.config(), "score": "dot/sqrt(H) + w*cos(query,item)"},
        metrics=reg_metrics, lineage=lineage,
        history={"epochCount": len(record["history"]), "lossHistory": [h["train_loss"] for h in record["history"]],
                 "validationAccuracy": record["best_val_ndcg10"], "validationMetric": "ndcg@10",
                 "epochs": record["history"]})
    registry.promote(version, "candidate")
    if "production" not in registry.aliases():
        registry.promote(version, "production")

    per_user = per_user.replace({"ranker": {"gat": f"reranker@{version}"}})
    per_user.to_parquet(out_dir / "per_user.parquet", index=False)
    result = {
        "interactions": stats, "split": {"val_frac": gp.val_frac, "test_frac": gp.test_frac,
                                         "val_users": len(val.users), "test_users": len(test.users)},
        "candidates": gp.candidates, "k": gp.k, "retriever_recall@100": ceiling,
        "rankers": {("gat" if n == "gat" else n): v for n, v in summary.items()},
        "significance": sig, "training": {k: v for k, v in record.items() if k != "history"} | {
            "train_seconds": t_train, "history": record["history"]},
        "latency": latency, "transfer": transfer_res, "model": {"version": version, "aliases": registry.aliases(),
                                                                "config": model.config()},
        "goal": {"gat_ndcg_above_every_baseline_p_lt_0_05": sig["gat_better_p_lt_0_05"]},
    }
    write_metrics("rerank", result,
                  seed=params.seed, threads=gp.threads, metrics_dir=metrics_dir)
    return result


# --------------------------------------------------------------------------- report helpers
def summary_table(result: dict) -> pd.DataFrame:
    """Rankers × metrics as 'mean [lo, hi]' numbers for the notebook."""
    rows = []
    for name, r in result["rankers"].items():
        row = {"ranker": name}
        for m in METRICS:
            row[m] = r[m]["mean"]
            row[f"{m} ci95"] = f"[{r[m]['ci95'][0]:.4f}, {r[m]['ci95'][1]:.4f}]"
        row["coverage@10"] = r.get("coverage@10")
        rows.append(row)
    return pd.DataFrame(rows).set_index("ranker")


def demo_run(root: str | Path) -> dict:
    """A small run on the toy catalog into root (used by the notebook when pipeline outputs are absent)."""
    from mgw.rerank.toy import toy_params, write_toy_catalog

    root = Path(root)
    write_toy_catalog(root / "catalog", n_items=200, dim=32)
    params = toy_params(root, users=50, events=20, epochs=2)
    run(params, out_dir=root / "out", metrics_dir=root / "metrics", progress=False)
    return {"metrics": root / "metrics" / "rerank.json", "per_user": root / "out" / "per_user.parquet",
            "registry": root / "models"}
