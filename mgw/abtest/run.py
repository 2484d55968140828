"""`mgw abtest` end to end: resolve the arms, load their per-user metrics (and ranked lists for the online
simulation), run the offline A/B/n, the simulated online experiment, and the calibration; write
reports/metrics/abtest.json. Data comes from the reranker's public API (`mgw.rerank.evaluate`) or its
long file reports/rerank/per_user.parquet; `source="synthetic"` uses the seeded toy world instead and
says so in the result.
"""
from __future__ import annotations

import importlib
import logging
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from mgw.abtest import calibration as cal
from mgw.abtest.clickmodel import PositionBasedModel, relevance_matrix
from mgw.abtest.experiment import METRICS, offline_ab, per_user_from_lists, per_user_from_long, simulate_online
from mgw.abtest.synthetic import RankedArms, make_synthetic_arms
from mgw.config import ROOT, Params
from mgw.errors import DataError
from mgw.reporting import write_metrics

log = logging.getLogger(__name__)

PER_USER_FILE = ROOT / "reports" / "rerank" / "per_user.parquet"
BASELINES = ("retriever", "popularity", "utility", "lightgcn")
# synthetic world: arm → score noise (lower = better); GAT-like arms are the less noisy ones
SYNTHETIC_ARMS = {"retriever": 1.6, "popularity": 2.2, "utility": 1.4, "lightgcn": 1.1,
                  "reranker@production": 1.0, "reranker@candidate": 0.9}


def _rerank_module(name: str):
    try:
        return importlib.import_module(f"mgw.rerank.{name}")
    except ModuleNotFoundError as e:
        if e.name and e.name.startswith("mgw.rerank"):
            return None
        raise


def check_ranker_name(name: str) -> None:
    """Known ranker names: the baselines and reranker@<semver|alias>."""
    if name in BASELINES or (name.startswith("reranker@") and len(name) > len("reranker@")):
        return
    raise DataError(f"unknown ranker {name!r}; use one of {list(BASELINES)} or reranker@<version|alias>")


def default_arms(params: Params) -> tuple[list[str], list[str]]:
    """(arms, notes): params' control/treatment, or — when the registry holds a single version — the GAT
    reranker against the best baseline, with a note saying so."""
    arms, notes = [params.abtest.control, params.abtest.treatment], []
    registry = _rerank_module("registry")
    versions = None
    if registry is not None:
        for fn in ("list_versions", "versions"):
            if hasattr(registry, fn):
                try:
                    versions = list(getattr(registry, fn)(params) if fn == "list_versions" else getattr(registry, fn)())
                except TypeError:
                    versions = list(getattr(registry, fn)())
                break
    if versions is not None and len(versions) < 2:
        best = best_baseline(params)
        notes.append(f"registry holds {len(versions)} version(s): comparing reranker@production against the best "
                     f"baseline {best!r} instead of {arms[0]} vs {arms[1]}")
        arms = [best, "reranker@production"]
    return arms, notes


def best_baseline(params: Params) -> str:
    """The baseline with the highest mean primary metric in the reranker's per-user table (lightgcn if unknown)."""
    if PER_USER_FILE.exists():
        df = pd.read_parquet(PER_USER_FILE)
        df = df[df["ranker"].isin(BASELINES)]
        if len(df):
            return str(df.groupby("ranker")[params.abtest.primary_metric].mean().idxmax())
    return "lightgcn"


def load_per_user(rankers: Sequence[str], params: Params) -> tuple[dict[str, pd.DataFrame], str]:
    """arm → per-user metrics DataFrame, and where they came from."""
    for r in rankers:
        check_ranker_name(r)
    evaluate = _rerank_module("evaluate")
    if evaluate is not None and hasattr(evaluate, "per_user_metrics"):
        return {r: evaluate.per_user_metrics(r, params) for r in rankers}, "mgw.rerank.evaluate.per_user_metrics"
    if PER_USER_FILE.exists():
        return per_user_from_long(pd.read_parquet(PER_USER_FILE), rankers), str(PER_USER_FILE.relative_to(ROOT))
    raise DataError(f"no per-user metrics for {list(rankers)}: run `mgw train` (writes {PER_USER_FILE}) "
                    f"or use --source synthetic")


def load_ranked_lists(rankers: Sequence[str], params: Params) -> RankedArms | None:
    """Each arm's ranked top-K lists and held-out items, if the reranker exposes them (`ranked_lists`)."""
    evaluate = _rerank_module("evaluate")
    if evaluate is None or not hasattr(evaluate, "ranked_lists"):
        return None
    lists, user_ids, relevant = {}, None, None
    for r in rankers:
        out = evaluate.ranked_lists(r, params)  # expected: (user_ids, [U, K] item ids, {user: set(items)})
        uids, lst, rel = out
        if user_ids is not None and list(uids) != list(user_ids):
            raise DataError(f"ranked lists of {r!r} cover different users than {rankers[0]!r}")
        user_ids, relevant = uids, rel
        lists[r] = np.asarray(lst)
    return RankedArms(user_ids=np.asarray(user_ids), lists=lists, relevant=relevant, source="mgw.rerank.evaluate")


def click_model(params: Params) -> PositionBasedModel:
    ab = params.abtest
    return PositionBasedModel(eta=ab.pbm_eta, attract_relevant=ab.attract_relevant,
                              attract_irrelevant=ab.attract_irrelevant)


def run_abtest(params: Params, arms: Sequence[str] | None = None, control: str | None = None,
               source: str | None = None, online: bool = True, calibrate: bool = True,
               metrics_dir: str | Path | None = None, write: bool = True) -> dict:
    """Everything `mgw abtest` reports, as one dict (also written to <metrics_dir>/abtest.json)."""
    ab, seed = params.abtest, params.seed
    source = source or ab.source
    notes: list[str] = []
    if not arms:
        arms, notes = default_arms(params)
    arms = list(arms)
    if len(arms) < 2:
        raise DataError(f"need at least two arms (got {arms})")
    if len(set(arms)) != len(arms):
        raise DataError(f"arms must be distinct (got {arms})")
    control = control or arms[0]
    if control not in arms:
        raise DataError(f"control {control!r} is not one of the arms {arms}")
    treatments = [a for a in arms if a != control]
    ranked = None
    if source == "synthetic":
        unknown = [a for a in arms if a not in SYNTHETIC_ARMS]
        if unknown:
            raise DataError(f"unknown ranker(s) {unknown} in the synthetic world; it has {list(SYNTHETIC_ARMS)}")
        ranked = make_synthetic_arms({a: SYNTHETIC_ARMS[a] for a in arms}, n_users=ab.synthetic_users, seed=seed)
        per_user, origin = per_user_from_lists(ranked), "synthetic (seeded latent-factor world, not real models)"
    else:
        per_user, origin = load_per_user(arms, params)
        if online:
            ranked = load_ranked_lists(arms, params)
            if ranked is None:
                notes.append("online simulation skipped: mgw.rerank.evaluate exposes no ranked_lists(ranker, params)")
    result: dict = {"source": origin, "arms": arms, "control": control, "notes": notes}
    result["offline"] = offline_ab(per_user, control, treatments, metrics=METRICS, primary_metric=ab.primary_metric,
                                   alpha=ab.alpha, n_boot=ab.bootstrap, seed=seed, min_users=ab.min_users,
                                   mde=ab.mde, power=ab.power, test=ab.test)
    model = click_model(params)
    if online and ranked is not None:
        frac = float(ab.rollout.get(ab.feature, 0.5))
        result["online"] = {t: simulate_online(ranked, control, t, fraction=frac, feature=ab.feature, salt=ab.salt,
                                               sessions=ab.sessions, model=model, alpha=ab.alpha,
                                               n_boot=ab.bootstrap, seed=seed, mde_ctr=ab.online_mde,
                                               power=ab.power) for t in treatments}
    if calibrate:
        result["calibration"] = calibrate_all(per_user, control, treatments[0], params, ranked)
    if write:
        write_metrics("abtest", result, seed=seed, threads=1, metrics_dir=metrics_dir)
    return result


def calibrate_all(per_user: dict[str, pd.DataFrame], control: str, treatment: str, params: Params,
                  ranked: RankedArms | None) -> dict:
    """A/A false-positive rates and planted-difference power, on this experiment's own data."""
    ab, seed = params.abtest, params.seed
    m = ab.primary_metric
    d = (per_user[treatment][m] - per_user[control][m].reindex(per_user[treatment].index)).to_numpy(np.float64)
    out: dict = {"metric": m, "pair": [control, treatment]}
    if not np.any(d):
        out["offline"] = {"skipped": "the two arms give identical per-user values; no noise to calibrate on"}
    else:
        aa = cal.aa_offline(d, runs=ab.aa_runs, alpha=ab.alpha, n_boot=ab.calibration_bootstrap, seed=seed)
        planted = cal.planted_offline(d, ab.mde, runs=ab.aa_runs, alpha=ab.alpha, seed=seed + 1)
        out["offline"] = {"aa": aa, "planted": planted}
    if ranked is not None:
        lists = np.asarray(ranked.lists[control])
        rel = relevance_matrix(lists, ranked.user_ids, ranked.relevant)
        frac = float(ab.rollout.get(ab.feature, 0.5))
        model = click_model(params)
        kw = dict(runs=ab.aa_runs, fraction=frac, sessions=ab.sessions, model=model, alpha=ab.alpha, salt=ab.salt)
        out["online"] = {"aa": cal.aa_online(rel, ranked.user_ids, seed=seed, **kw),
                         "planted": cal.aa_online(rel, ranked.user_ids, seed=seed + 1, lift=ab.online_lift, **kw),
                         "interleaving_aa": cal.aa_interleaving(lists, rel, runs=max(10, ab.aa_runs // 4),
                                                                sessions=ab.sessions, model=model,
                                                                alpha=ab.alpha, seed=seed + 2)}
    return out


def summary_lines(result: dict) -> list[str]:
    """The decision table a person reads in the terminal."""
    off = result["offline"]
    lines = [f"source: {result['source']}", *[f"note: {n}" for n in result.get("notes", [])],
             f"control: {off['control']}  users: {off['n_users']}  test: {off['test']}  {off['multiple_testing']}"]
    for c in off["comparisons"]:
        lines.append(f"  {c['treatment']:<24} {c['metric']:<11} Δ={c['diff']:+.4f} "
                     f"[{c['ci_low']:+.4f}, {c['ci_high']:+.4f}]  p_t={c['p_t']:.3g} p_w={c['p_wilcoxon']:.3g} "
                     f"p_holm={c['p_holm']:.3g} d_z={c['effect_dz']:+.2f}{'  *' if c['significant'] else ''}")
    for arm, d in off["decisions"].items():
        lines.append(f"DECISION {arm} vs {off['control']}: {d['decision'].upper()} — {d['reason']}")
    for arm, o in result.get("online", {}).items():
        s, il = o["split"], o["interleaving"]
        if "ctr" in s:
            lines.append(f"online {arm}: CTR {s['ctr']['control']['mean']:.4f} → {s['ctr']['treatment']['mean']:.4f} "
                         f"(Δ={s['ctr']['diff']:+.4f} [{s['ctr']['ci_low']:+.4f}, {s['ctr']['ci_high']:+.4f}], "
                         f"p={s['ctr']['p_welch']:.3g}; users needed {s['users_for_observed_ctr_diff']})")
        lines.append(f"interleaving {arm}: preference {il['preference']}, credit {il['mean_credit']:+.4f} "
                     f"[{il['ci_low']:+.4f}, {il['ci_high']:+.4f}], p={il['p_t']:.3g}; "
                     f"users needed {il['users_for_observed_preference']}")
    cal = result.get("calibration", {})
    if "aa" in cal.get("offline", {}):
        aa, pl = cal["offline"]["aa"], cal["offline"]["planted"]
        lines.append(f"A/A offline ({aa['runs']} runs): FPR t={aa['t']['rate']:.3f} wilcoxon={aa['wilcoxon']['rate']:.3f}"
                     + (f" bootstrap={aa['bootstrap']['rate']:.3f}" if "bootstrap" in aa else "")
                     + f" (nominal {aa['alpha']})")
        lines.append(f"planted Δ={pl['effect']} offline: detected {pl['t']['rate']:.3f} "
                     f"(predicted power {pl['predicted_power_t']:.3f})")
    if "online" in cal:
        on = cal["online"]
        lines.append(f"A/A online ({on['aa']['runs']} runs): FPR {on['aa']['welch']['rate']:.3f}; planted CTR "
                     f"Δ={on['planted']['true_ctr_diff']:+.4f}: detected {on['planted']['welch']['rate']:.3f} "
                     f"(predicted {on['planted']['predicted_power']:.3f}); interleaving A/A FPR "
                     f"{on['interleaving_aa']['t']['rate']:.3f}")
    return lines
