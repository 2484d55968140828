"""`mgw abtest` end to end: resolve the arms, load their per-user metrics (and ranked lists for the online
simulation), run the offline A/B/n, the simulated online experiment, and the calibration; write
reports/metrics/abtest.json. Data comes from the reranker's public API (`mgw.rerank.evaluate`) or its
long file reports/rerank/per_user.parquet; `source="synthetic"` uses the seeded toy world instead and
says so in the result.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from mgw.abtest import calibration as cal
from mgw.abtest.clickmodel import PositionBasedModel, relevance_matrix
from mgw.abtest.experiment import METRICS, offline_ab, per_user_from_lists, simulate_online
from mgw.abtest.sources import default_arms, load_arms, task_arms
from mgw.abtest.synthetic import RankedArms, make_synthetic_arms
from mgw.config import Params
from mgw.errors import DataError
from mgw.reporting import write_metrics

log = logging.getLogger(__name__)

# synthetic world: arm → score noise (lower = better); GAT-like arms are the less noisy ones
SYNTHETIC_ARMS = {"retriever": 1.6, "popularity": 2.2, "utility": 1.4, "lightgcn": 1.1,
                  "reranker@production": 1.0, "reranker@candidate": 0.9}


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
        arms, notes = (list(SYNTHETIC_ARMS)[-2:], []) if source == "synthetic" else default_arms(params)
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
        per_user, ranked, origin, more = load_arms(arms, params)
        notes += more
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
    if source != "synthetic":
        result["tasks"] = per_task(params)
    if write:
        write_metrics("abtest", result, seed=seed, threads=1, metrics_dir=metrics_dir)
    return result


def per_task(params: Params, **files) -> dict:
    """Offline A/B per task of the last `mgw train` run: its GAT against that task's best baseline (the
    comparator a team would ship otherwise), same users, same test, Holm over the metrics."""
    ab = params.abtest
    out = {}
    for task, (per_user, control, gat) in task_arms(**files).items():
        out[task] = offline_ab(per_user, control, [gat], metrics=METRICS, primary_metric=ab.primary_metric,
                               alpha=ab.alpha, n_boot=ab.bootstrap, seed=params.seed, min_users=ab.min_users,
                               mde=ab.mde, power=ab.power, test=ab.test)
    return out


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
    for task, t in result.get("tasks", {}).items():
        for arm, d in t["decisions"].items():
            lines.append(f"[{task}] DECISION {arm} vs {t['control']} ({t['n_users']} users): "
                         f"{d['decision'].upper()} — {d['reason']}")
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
