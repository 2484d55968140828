"""The rerank experiment as steps: candidates → train → evaluate → significance → register → report.

`run` (= `mgw train`) builds interactions (simulated users or MovieLens linked to the catalog) split by time
(per-user or one global cut), generates candidates for the val and test phases, tunes every trainable ranker
with the same budget on held-out val-phase users, trains the GAT with several seeds (and the ablations),
evaluates each task (recommend; personalised search when a pipeline is given) on the test phase, tests the GAT
against every baseline (paired, Holm-corrected), registers the model and writes reports/metrics/rerank.json.
The test split is used only to report: nothing is chosen on it except which baseline the GAT is compared to
(the best one, the hardest comparison).
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd
import torch

from mgw import claims as seed_claims
from mgw.config import ROOT, Params, data_dir
from mgw.data.interactions import catalog_items, load_movielens, simulate_users, split_events
from mgw.errors import DataError, UnknownIdError
from mgw.rerank import baselines
from mgw.rerank.candidates import CandidateParams
from mgw.rerank.dataset import Phase, RerankData
from mgw.rerank.inference import Reranker, score_phase
from mgw.rerank.metrics import (METRICS, bootstrap_ci, conditional_and_oracle, holm, paired_test, rank_metrics,
                                ranking_from_scores)
from mgw.rerank.registry import load_reranker, register_model  # noqa: F401  (load_reranker: public here too)

log = logging.getLogger(__name__)
BASELINES = ("retriever", "popularity", "utility", "itemknn", "als", "lightgcn", "lightgbm")
REPORT_DIR = ROOT / "reports" / "rerank"
Scorer = Callable[[Phase], np.ndarray]


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


def split_kind(params: Params) -> str:
    """gnn.split; `auto` = global for MovieLens (real raters overlap in time), per-user for simulated users."""
    s = params.gnn.split
    return s if s != "auto" else ("global" if params.gnn.interactions == "movielens" else "per_user")


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
    stats["split"] = split_kind(params)
    return RerankData(items, split_events(events, stats["split"], gp.val_frac, gp.test_frac),
                      CandidateParams.from_params(params)), stats


def item_types(params: Params, data: RerankData) -> list[Any]:
    catalog = load_catalog(params.gnn.catalog_dir)[0]
    kind = dict(zip(catalog["entity_id"], catalog["type"])) if "type" in catalog else {}
    return [kind.get(e) for e in data.items.ids]


def params_hash(params: Params) -> str:
    keep = {"seed": params.seed, "gnn": params.gnn.model_dump(exclude={"modelVersion", "registry_dir"})}
    return hashlib.sha256(json.dumps(keep, sort_keys=True).encode()).hexdigest()[:16]


# --------------------------------------------------------------------------- step 1: candidates
@dataclass
class Experiment:
    params: Params
    data: RerankData
    stats: dict
    val: Phase
    fit: Phase  # val-phase users rankers train on
    tune: Phase  # val-phase users held out for tuning and early stopping
    test: Phase
    tasks: dict[str, Phase] = field(default_factory=dict)
    search_info: dict = field(default_factory=dict)


def prepare(params: Params, pipeline: Any = None) -> Experiment:
    """Data, the val and test phases with their candidate unions, the fit/tune users, and the search task."""
    from mgw.rerank.system import split_users

    gp = params.gnn
    data, stats = build_data(params)
    val, test = data.phase("val", gp.candidates), data.phase("test", gp.candidates)
    fit, tune = split_users(val, gp.tune_frac, params.seed)
    exp = Experiment(params, data, stats, val, fit, tune, test, {"recommend": test})
    if pipeline is not None:
        from mgw.rerank.search_task import search_phase

        phase, info = search_phase(test, data.items.ids, item_types(params, data), pipeline, gp.search_users,
                                   params.seed, dict(gp.candidate_quotas) if gp.search_candidates == "union"
                                   else None)
        exp.search_info = info
        if phase is not None:
            exp.tasks["search"] = phase
    log.info("rerank data: %s; val users %d (fit %d, tune %d), test users %d", stats, len(val.users),
             len(fit.users), len(tune.users), len(test.users))
    return exp


# --------------------------------------------------------------------------- step 2: train (same budget)
def ndcg(phase: Phase, scores: np.ndarray, k: int) -> float:
    return float(rank_metrics(ranking_from_scores(phase.cand, scores), phase.relevant, k).iloc[:, 0].mean())


def _fixed(fn) -> Scorer:
    return lambda phase, data=None: fn(phase, None)


def tune_baselines(exp: Experiment) -> tuple[dict[str, Scorer], dict]:
    """Every baseline as a scorer; ALS, LightGCN and LightGBM tuned over their first `tune_budget` grid
    configs by the tune users' NDCG@10 (val phase), then used as chosen."""
    gp, data, seed = exp.params.gnn, exp.data, exp.params.seed
    budget = gp.tune_budget
    scorers: dict[str, Scorer] = {
        "retriever": lambda ph: baselines.score_retriever(ph, data),
        "popularity": lambda ph: baselines.score_popularity(ph, data),
        "utility": lambda ph: baselines.score_utility(ph, data),
        "itemknn": lambda ph: baselines.score_itemknn(ph, data),
    }
    records: dict[str, dict] = {}

    def pick(name: str, trial: Callable[[dict], tuple[float, Any]]) -> Any:
        tried, best = [], None
        for cfg in baselines.GRIDS[name][:budget]:
            score, obj = trial(cfg)
            tried.append({"config": cfg, "tune_ndcg@10": score})
            if best is None or score > best[0]:
                best = (score, obj, cfg)
        records[name] = {"tried": tried, "chosen": best[2], "budget": budget}
        return best[1], best[2]

    def als_trial(cfg):
        r = baselines.ALSRanker(data.cp, cfg["factors"], cfg["regularization"])
        return ndcg(exp.tune, r.score(exp.tune, data), gp.k), r
    als, _ = pick("als", als_trial)
    scorers["als"] = lambda ph: als.score(ph, data)

    def lgcn(cfg, splits):
        return baselines.LightGCNRanker(gp.lightgcn_dim, epochs=gp.lightgcn_epochs, lr=cfg["lr"], seed=seed,
                                        threads=gp.threads).fit(data, splits)

    def lgcn_trial(cfg):
        return ndcg(exp.tune, lgcn(cfg, ("train",)).score(exp.tune, data), gp.k), None
    _, cfg = pick("lightgcn", lgcn_trial)
    lg_test = lgcn(cfg, ("train", "val"))
    scorers["lightgcn"] = lambda ph: lg_test.score(ph, data)

    def lgbm_trial(cfg):
        r = baselines.LambdaRanker(seed=seed, threads=gp.threads, **cfg).fit(exp.fit, exp.tune)
        return ndcg(exp.tune, r.score(exp.tune), gp.k), r
    lgbm, _ = pick("lightgbm", lgbm_trial)
    records["lightgbm"]["feature_importance"] = lgbm.importance()
    records["lightgbm"]["best_iteration"] = lgbm.best_iteration_
    scorers["lightgbm"] = lambda ph: lgbm.score(ph)
    for name in ("retriever", "popularity", "utility", "itemknn"):
        scorers_tune = ndcg(exp.tune, scorers[name](exp.tune), gp.k)
        records[name] = {"tried": [], "chosen": None, "budget": 0, "tune_ndcg@10": scorers_tune}
    return scorers, records


@dataclass
class GatRun:
    model: Any
    graph: Any
    cache: Any
    record: dict
    seed: int
    config: dict

    def scorer(self) -> Scorer:
        rows = self.record["user_rows"]
        return lambda ph: score_phase(self.model, self.cache, ph, rows)


def train_gat(exp: Experiment, log_dir: Path, progress: bool) -> tuple[list[GatRun], dict]:
    """The GAT: `tune_budget` learning rates at the first seed (chosen by tune NDCG@10), then the other seeds
    at the chosen one. Returns every seed's run (chosen config) and the tuning record."""
    from mgw.rerank.system import fit_gat

    gp, seed = exp.params.gnn, exp.params.seed
    tried, runs = [], []
    for cfg in baselines.GRIDS["gat"][:gp.tune_budget]:
        lr = gp.lr * cfg["lr_scale"]
        m, g, c, rec = fit_gat(exp.data, gp, seed, log_dir / f"lr{lr:g}", exp.fit, exp.tune, progress, lr=lr)
        tried.append({"config": {"lr": lr}, "tune_ndcg@10": rec["best_val_ndcg10"], "best_epoch": rec["best_epoch"]})
        runs.append(GatRun(m, g, c, rec, seed, {"lr": lr}))
    best = max(runs, key=lambda r: r.record["best_val_ndcg10"])
    seeds = [best]
    for s in range(1, gp.seeds):
        m, g, c, rec = fit_gat(exp.data, gp, seed + s, log_dir / f"seed{seed + s}", exp.fit, exp.tune, progress,
                               lr=best.config["lr"])
        seeds.append(GatRun(m, g, c, rec, seed + s, best.config))
    return seeds, {"tried": tried, "chosen": best.config, "budget": gp.tune_budget}


ABLATIONS = {"no id embeddings": {"id_embeddings": False}, "no item-item edges": {"item_knn": 0},
             "heads 1": {"heads": 1}, "heads 2": {"heads": 2}, "heads 4": {"heads": 4}, "hidden 64": {"hidden": 64}}


def ablate(exp: Experiment, chosen: GatRun, log_dir: Path, progress: bool) -> list[dict]:
    """One seed per variant at the chosen learning rate; tune NDCG@10 (val) and test NDCG@10 per task."""
    from mgw.rerank.system import fit_gat

    gp = exp.params.gnn
    rows = [_ablation_row("full (seed config)", chosen, exp)]
    for name, over in ABLATIONS.items():
        if over.get("heads") == gp.heads:
            continue
        m, g, c, rec = fit_gat(exp.data, gp, chosen.seed, log_dir / name.replace(" ", "_"), exp.fit, exp.tune,
                               progress, lr=chosen.config["lr"], **over)
        rows.append(_ablation_row(name, GatRun(m, g, c, rec, chosen.seed, chosen.config), exp))
    return rows


def _ablation_row(name: str, run: GatRun, exp: Experiment) -> dict:
    row = {"variant": name, "tune_ndcg@10": run.record["best_val_ndcg10"], "epochs": run.record["epochs_run"]}
    for task, phase in exp.tasks.items():
        row[f"{task}_test_ndcg@10"] = ndcg(phase, run.scorer()(phase), exp.params.gnn.k)
    return row


# --------------------------------------------------------------------------- step 3: evaluate
def metrics_frame(ranker: str, phase: Phase, scores: np.ndarray, k: int) -> pd.DataFrame:
    df = rank_metrics(ranking_from_scores(phase.cand, scores), phase.relevant, k)
    df.insert(0, "user_id", phase.users)
    df.insert(0, "ranker", ranker)
    return df


def coverage(phase: Phase, scores: np.ndarray, n_items: int, k: int) -> float:
    return float(len(np.unique(ranking_from_scores(phase.cand, scores)[:, :k])) / n_items)


def evaluate_task(phase: Phase, scorers: dict[str, Scorer], n_items: int, k: int, n_boot: int, seed: int
                  ) -> tuple[pd.DataFrame, dict]:
    """Per-user metrics (long) and per ranker: mean + bootstrap CI of each metric, coverage, conditional NDCG."""
    frames, table = [], {}
    for name, sc in scorers.items():
        s = sc(phase)
        df = metrics_frame(name, phase, s, k)
        frames.append(df)
        table[name] = {m: {"mean": float(df[m].mean()), "ci95": bootstrap_ci(df[m].to_numpy(), n_boot, seed)}
                       for m in METRICS}
        table[name]["coverage@10"] = coverage(phase, s, n_items, k)
        table[name].update({k_: v for k_, v in conditional_and_oracle(phase.cand, phase.relevant,
                                                                       df["ndcg@10"].to_numpy(), k).items()
                            if k_ == "conditional_ndcg@10"})
    return pd.concat(frames, ignore_index=True), table


# --------------------------------------------------------------------------- step 4: significance
def significance(per_user: pd.DataFrame, n_boot: int, seed: int, gat: str = "gat") -> dict:
    """GAT vs every baseline on per-user NDCG@10: paired bootstrap CI, Wilcoxon and t, Holm across baselines."""
    wide = per_user.pivot(index="user_id", columns="ranker", values="ndcg@10")
    names = [c for c in wide.columns if c != gat]
    tests = {b: paired_test(wide[gat].to_numpy(), wide[b].to_numpy(), n_boot, seed) for b in names}
    for key in ("p_wilcoxon", "p_ttest"):
        adj = holm([np.nan_to_num(tests[b][key], nan=1.0) for b in names])
        for b, p in zip(names, adj):
            tests[b][f"{key}_holm"] = float(p)
    means = wide.mean()
    best = max(names, key=lambda b: means[b])
    return {"metric": "ndcg@10", "vs": tests, "best_baseline": best, "correction": "holm across baselines"}


def headline(task: str, phase: Phase, table: dict, sig: dict) -> dict:
    best = sig["best_baseline"]
    g, b = table["gat"]["ndcg@10"]["mean"], table[best]["ndcg@10"]["mean"]
    rec = phase.candidate_recall or {}
    r100 = (rec.get("union") or rec.get("pipeline") or {})
    cr = r100.get("recall@100", next(iter(r100.values()), None) if r100 else None)
    t = sig["vs"][best]
    return {"candidate_recall_at_100": cr, "gat_ndcg10": g, "best_baseline": best, "best_baseline_ndcg10": b,
            "gat_over_best": g / b if b else None, "p_holm": t["p_wilcoxon_holm"], "p_holm_ttest": t["p_ttest_holm"],
            "users": len(phase.users), "gat_wins_5pct_p05": bool(b and g / b >= 1.05 and t["p_wilcoxon_holm"] < 0.05)}


def verdict(head: dict) -> str:
    """One line per task: who wins, by how much, how sure."""
    lines = []
    for task, h in head.items():
        if not isinstance(h, dict) or "gat_ndcg10" not in h:
            continue
        ratio = h["gat_over_best"]
        who = "GAT" if ratio and ratio > 1 else h["best_baseline"]
        lines.append(f"{task}: {who} wins — GAT NDCG@10 {h['gat_ndcg10']:.4f} vs {h['best_baseline']} "
                     f"{h['best_baseline_ndcg10']:.4f} (×{ratio:.3f}), Holm-adjusted Wilcoxon p = {h['p_holm']:.3g}; "
                     f"{'meets' if h['gat_wins_5pct_p05'] else 'does not meet'} the +5 %, p < 0.05 bar")
    return "\n".join(lines)


# --------------------------------------------------------------------------- the experiment
def run(params: Params, out_dir: str | Path | None = None, registry_dir: str | Path | None = None,
        metrics_dir: str | Path | None = None, transfer: bool = True, progress: bool = True,
        pipeline: Any = None, ablations: bool | None = None) -> dict:
    """`mgw train`: the whole experiment; returns the summary written to reports/metrics/rerank.json."""
    from mgw.rerank.latency import bench_latency
    from mgw.reporting import write_metrics

    gp = params.gnn
    torch.set_num_threads(gp.threads)
    out_dir = _path(out_dir or REPORT_DIR)
    out_dir.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    exp = prepare(params, pipeline)  # 1. candidates
    t_cand = time.perf_counter() - t0
    scorers, tuning = tune_baselines(exp)  # 2. train (same budget)
    runs, gat_tuning = train_gat(exp, out_dir / "lightning", progress)
    tuning["gat"] = gat_tuning
    chosen = runs[0]
    t_train = time.perf_counter() - t0 - t_cand
    pd.DataFrame(chosen.record["history"]).to_csv(out_dir / "history.csv", index=False)
    scorers["gat"] = chosen.scorer()

    tasks, frames, head = {}, [], {}
    for task, phase in exp.tasks.items():  # 3. evaluate, 4. significance
        per_user, table = evaluate_task(phase, scorers, len(exp.data.items.ids), gp.k, gp.bootstrap, params.seed)
        sig = significance(per_user, gp.bootstrap, params.seed)
        seeds = [ndcg(phase, r.scorer()(phase), gp.k) for r in runs]
        extra = conditional_and_oracle(phase.cand, phase.relevant, per_user[per_user.ranker == "gat"][
            "ndcg@10"].to_numpy(), gp.k)
        tasks[task] = {"users": len(phase.users), "candidate_recall": phase.candidate_recall, "rankers": table,
                       "significance": sig, "oracle_ndcg@10": extra["oracle_ndcg@10"],
                       "users_with_relevant_candidate": extra["users_with_relevant_candidate"],
                       "gat_seeds": {"seeds": [r.seed for r in runs], "ndcg@10": seeds,
                                     "mean": float(np.mean(seeds)), "std": float(np.std(seeds, ddof=1))
                                     if len(seeds) > 1 else 0.0}}
        head[task] = headline(task, phase, table, sig)
        frames.append(per_user.assign(task=task))
    do_ablate = gp.ablations if ablations is None else ablations
    ablation_rows = ablate(exp, chosen, out_dir / "lightning" / "ablations", progress) if do_ablate else []
    transfer_res = _transfer(exp, out_dir / "lightning") if transfer else {"skipped": "disabled"}

    # 5. register, 6. report
    rr, version, registry = register_model(exp, chosen, tasks, head, params, registry_dir)
    latency = bench_latency(rr, exp.test, exp.data, gp.latency_queries, params.seed, index_params=params.index)
    latency["load_average"] = list(os.getloadavg())  # absolute times on a shared machine: read with the load
    head["rerank_p50_ms"] = latency["rerank_ms"]["p50"]
    head["rerank_unknown_user_p50_ms"] = latency["rerank_pref_vector_ms"]["p50"]
    head["interactions"] = exp.stats["source"]
    head["split"] = exp.stats["split"]
    long = pd.concat(frames, ignore_index=True).replace({"ranker": {"gat": f"reranker@{version}"}})
    long[long.task == "recommend"].drop(columns="task").to_parquet(out_dir / "per_user.parquet", index=False)
    long.to_parquet(out_dir / "per_user_tasks.parquet", index=False)
    rec = tasks["recommend"]
    result = {
        "headline": head, "verdict": verdict(head),
        "interactions": exp.stats, "split": {"kind": exp.stats["split"], "val_frac": gp.val_frac,
                                             "test_frac": gp.test_frac, "val_users": len(exp.val.users),
                                             "fit_users": len(exp.fit.users), "tune_users": len(exp.tune.users),
                                             "test_users": len(exp.test.users)},
        "candidates": {"n": gp.candidates, "quotas": gp.candidate_quotas, "val": exp.val.candidate_recall,
                       "test": exp.test.candidate_recall}, "k": gp.k,
        "tasks": tasks, "search_task": exp.search_info or {"skipped": "no search pipeline"},
        "tuning": tuning, "ablations": ablation_rows,
        # the recommend task in the shape earlier readers know
        "retriever_recall@100": (exp.test.candidate_recall or {}).get("content", {}).get("recall@100"),
        "union_recall@100": head["recommend"]["candidate_recall_at_100"],
        "rankers": rec["rankers"], "significance": {**rec["significance"]["vs"][rec["significance"]["best_baseline"]],
                                                    "vs": rec["significance"]["best_baseline"]},
        "training": {k: v for k, v in chosen.record.items() if k not in ("history", "user_rows")} | {
            "train_seconds": t_train, "candidate_seconds": t_cand, "history": chosen.record["history"]},
        "latency": latency, "transfer": transfer_res,
        "model": {"version": version, "aliases": registry.aliases(), "config": chosen.model.config()},
        "goal": {task: h["gat_wins_5pct_p05"] for task, h in head.items() if isinstance(h, dict)},
    }
    write_metrics("rerank", result, seed=params.seed, threads=gp.threads, metrics_dir=metrics_dir)
    return result


def _transfer(exp: Experiment, log_dir: Path) -> dict:
    """Train without any train/val interaction on items of gnn.transfer_genres (candidates and features rebuilt
    from that data too); NDCG@10 on those genres' test positives vs the others."""
    from mgw.rerank.system import fit_gat, split_users

    params, data = exp.params, exp.data
    held = set(params.gnn.transfer_genres)
    if not held:
        return {"skipped": "gnn.transfer_genres is empty"}
    in_held = np.array([bool(held & set(g)) for g in data.items.genres])
    ev = data.events
    drop = in_held[data.item_row] & ev["split"].isin(["train", "val"]).to_numpy()
    sub = RerankData(data.items, ev[~drop].reset_index(drop=True), data.cp)
    val = sub.phase("val", params.gnn.candidates, with_recall=False)
    fit, tune = split_users(val, params.gnn.tune_frac, params.seed)
    model, _, cache, rec = fit_gat(sub, params.gnn, params.seed, log_dir / "transfer", fit, tune, progress=False)
    test = sub.phase("test", params.gnn.candidates, with_recall=False)
    ranked = ranking_from_scores(test.cand, score_phase(model, cache, test, rec["user_rows"]))
    res = {}
    for name, want in (("held_out", True), ("in_domain", False)):
        rel = [r[in_held[r] == want] for r in test.relevant]
        rows = [i for i, r in enumerate(rel) if len(r)]
        res[name] = {"ndcg@10": float(rank_metrics(ranked[rows], [rel[i] for i in rows], params.gnn.k)
                                      .iloc[:, 0].mean()) if rows else float("nan"), "users": len(rows)}
    ratio = res["held_out"]["ndcg@10"] / res["in_domain"]["ndcg@10"] if res["in_domain"]["ndcg@10"] else None
    return {"held_out_genres": sorted(held), "dropped_train_events": int(drop.sum()), "model_without_genres": res,
            "transferability": ratio, "seed_claim": seed_claims.value("s1.1.2-transfer"), "best_epoch": rec["best_epoch"]}


# --------------------------------------------------------------------------- public helpers (A/B area)
def baseline_scores(name: str, phase: Phase, data: RerankData, params: Params) -> np.ndarray:
    """A baseline's scores with its first grid config (the A/B area scores arms without re-tuning)."""
    gp = params.gnn
    fixed = {"retriever": baselines.score_retriever, "popularity": baselines.score_popularity,
             "utility": baselines.score_utility, "itemknn": baselines.score_itemknn}
    if name in fixed:
        return fixed[name](phase, data)
    if name == "als":
        cfg = baselines.GRIDS["als"][0]
        return baselines.ALSRanker(data.cp, cfg["factors"], cfg["regularization"]).score(phase, data)
    if name == "lightgcn":
        splits = ("train",) if phase.name == "val" else ("train", "val")
        return baselines.LightGCNRanker(gp.lightgcn_dim, epochs=gp.lightgcn_epochs, seed=params.seed,
                                        threads=gp.threads).fit(data, splits).score(phase, data)
    if name == "lightgbm":
        from mgw.rerank.system import split_users

        val = data.phase("val", gp.candidates, with_recall=False)
        fit, tune = split_users(val, gp.tune_frac, params.seed)
        return baselines.LambdaRanker(seed=params.seed, threads=gp.threads,
                                      **baselines.GRIDS["lightgbm"][0]).fit(fit, tune).score(phase)
    raise UnknownIdError(f"unknown ranker {name!r} (known: {', '.join(BASELINES)}, reranker@<version|alias>)")


def reranker_scores(rr: Reranker, phase: Phase, data: RerankData) -> np.ndarray:
    """A registered reranker's scores of a phase (its users must be known to it)."""
    missing = [u for u in phase.users if u not in rr.user_row]
    if missing:
        raise DataError(f"reranker {rr.version} has no state for {len(missing)} test users (e.g. {missing[0]}); "
                        f"it was trained on other interactions")
    ids = np.asarray(rr.item_ids)
    if ids.shape[0] != len(data.items.ids) or list(ids[:50]) != data.items.ids[:50]:
        raise DataError(f"reranker {rr.version} was trained on a different item set")
    return rr.score_phase(phase)


def summarize(per_user: pd.DataFrame, n_boot: int, seed: int) -> dict:
    out = {}
    for ranker, g in per_user.groupby("ranker", sort=False):
        out[ranker] = {m: {"mean": float(g[m].mean()), "ci95": bootstrap_ci(g[m].to_numpy(), n_boot, seed)}
                       for m in METRICS}
    return out


def per_user_metrics(ranker: str, params: Params, data: RerankData | None = None,
                     registry_dir: str | Path | None = None) -> pd.DataFrame:
    """Test-split metrics per user (index user_id; columns ndcg@10, recall@10, mrr@10, hitrate@10) for a
    baseline name or "reranker@<semver|production|candidate>"."""
    if not (ranker in BASELINES or ranker.startswith("reranker@")):
        raise UnknownIdError(f"unknown ranker {ranker!r} (known: {', '.join(BASELINES)}, reranker@<version|alias>)")
    rr = load_reranker(ranker.removeprefix("reranker@"), params, registry_dir) if ranker.startswith("reranker@") \
        else None
    data = data or build_data(params)[0]
    if rr is not None and rr.lineage.get("data_hash") != data.fingerprint():
        raise DataError(f"{ranker} (version {rr.version}) was trained on data {rr.lineage.get('data_hash')} "
                        f"({rr.lineage.get('interactions')}); these params give data {data.fingerprint()}, so its "
                        f"test metrics would not be comparable (or would leak)")
    phase = data.phase("test", params.gnn.candidates, with_recall=False)
    scores = reranker_scores(rr, phase, data) if rr else baseline_scores(ranker, phase, data, params)
    return metrics_frame(ranker, phase, scores, params.gnn.k).drop(columns="ranker").set_index("user_id")


# --------------------------------------------------------------------------- report helpers
def summary_table(result: dict, task: str = "recommend") -> pd.DataFrame:
    """Rankers × metrics as 'mean [lo, hi]' numbers for the notebook."""
    rows = []
    rankers = result["tasks"][task]["rankers"] if "tasks" in result else result["rankers"]
    for name, r in rankers.items():
        row = {"ranker": name}
        for m in METRICS:
            row[m] = r[m]["mean"]
            row[f"{m} ci95"] = f"[{r[m]['ci95'][0]:.4f}, {r[m]['ci95'][1]:.4f}]"
        row["coverage@10"] = r.get("coverage@10")
        row["conditional_ndcg@10"] = r.get("conditional_ndcg@10")
        rows.append(row)
    return pd.DataFrame(rows).set_index("ranker")


def demo_run(root: str | Path) -> dict:
    """A small run on the toy catalog into root (used by the notebook when pipeline outputs are absent)."""
    from mgw.rerank.toy import toy_params, write_toy_catalog

    root = Path(root)
    write_toy_catalog(root / "catalog", n_items=200, dim=32)
    params = toy_params(root, users=50, events=20, epochs=2)
    run(params, out_dir=root / "out", metrics_dir=root / "metrics", progress=False, transfer=False)
    return {"metrics": root / "metrics" / "rerank.json", "per_user": root / "out" / "per_user.parquet",
            "registry": root / "models"}
