"""A/B/n experiments over rankers: offline (paired, same users) and simulated online (split users + click
model, and team-draft interleaving). Inputs are plain DataFrames / arrays, so the same code runs on the
reranker's per-user metrics, on its ranked lists, or on the synthetic world in `synthetic.py`.
"""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import stats as sps

from mgw.abtest import power as pw
from mgw.abtest.bucketing import FeatureFlags
from mgw.abtest.clickmodel import PositionBasedModel, list_metrics, relevance_matrix
from mgw.abtest.interleaving import credit, team_draft
from mgw.abtest.stats import apply_holm, bootstrap_mean_ci, compare_paired, decide
from mgw.abtest.synthetic import RankedArms
from mgw.errors import DataError

METRICS = ("ndcg@10", "recall@10", "mrr@10", "hitrate@10")


# --------------------------------------------------------------------------- offline, paired
def check_same_users(per_user: Mapping[str, pd.DataFrame], control: str) -> pd.Index:
    """The control's user index, after checking every arm scored exactly the same users (no silent intersect:
    dropping users changes what is being compared)."""
    if control not in per_user:
        raise DataError(f"control {control!r} is not among the arms {sorted(per_user)}")
    base = per_user[control].index
    if base.has_duplicates:
        raise DataError(f"arm {control!r} lists some users twice")
    for arm, df in per_user.items():
        if df.index.has_duplicates:
            raise DataError(f"arm {arm!r} lists some users twice")
        only_arm, only_ctl = df.index.difference(base), base.difference(df.index)
        if len(only_arm) or len(only_ctl):
            raise DataError(
                f"arms were evaluated on different user sets: {arm!r} has {len(only_arm)} users that {control!r} "
                f"lacks and lacks {len(only_ctl)} of its {len(base)} users (e.g. {list(only_arm[:3]) + list(only_ctl[:3])}); "
                f"evaluate both on the same test split")
    return base


def offline_ab(per_user: Mapping[str, pd.DataFrame], control: str, treatments: Sequence[str] | None = None, *,
               metrics: Sequence[str] = METRICS, primary_metric: str = "ndcg@10", alpha: float = 0.05,
               n_boot: int = 2000, seed: int = 0, min_users: int = 30, mde: float | None = None,
               power: float = 0.8, test: str = "t") -> dict:
    """Paired A/B/n: each treatment vs the control on every metric; Holm across all (treatment, metric) pairs;
    one decision per treatment. `per_user`: arm → DataFrame indexed by user_id with the metric columns."""
    treatments = [a for a in per_user if a != control] if treatments is None else list(treatments)
    if not treatments:
        raise DataError("need at least one treatment arm besides the control")
    if len(set(treatments)) != len(treatments) or control in treatments:
        raise DataError(f"arms must be distinct (control {control!r}, treatments {treatments})")
    missing = [a for a in treatments if a not in per_user]
    if missing:
        raise DataError(f"no per-user metrics for arm(s) {missing}; have {sorted(per_user)}")
    users = check_same_users({a: per_user[a] for a in [control, *treatments]}, control)
    for arm in [control, *treatments]:
        lack = [m for m in metrics if m not in per_user[arm].columns]
        if lack:
            raise DataError(f"arm {arm!r} has no column(s) {lack} (has {list(per_user[arm].columns)})")
    comps = []
    for ti, arm in enumerate(treatments):
        for mi, metric in enumerate(metrics):
            a = per_user[control].loc[users, metric].to_numpy(np.float64)
            b = per_user[arm].loc[users, metric].to_numpy(np.float64)
            comps.append(compare_paired(a, b, metric, control, arm, n_boot=n_boot, alpha=alpha,
                                        seed=seed + 1000 * ti + mi))
    apply_holm(comps, alpha=alpha, test=test)
    decisions, power_rows = {}, {}
    for arm in treatments:
        mine = [c for c in comps if c.treatment == arm]
        decisions[arm] = decide(mine, primary_metric, alpha=alpha, mde=mde, min_users=min_users,
                                power=power).to_dict()
        power_rows[arm] = {c.metric: _power_row(c.n_users, c.sd_diff, mde, alpha, power) for c in mine}
    return {
        "design": "offline paired (same users, per-user differences)",
        "control": control, "treatments": treatments, "n_users": int(len(users)), "metrics": list(metrics),
        "primary_metric": primary_metric, "alpha": alpha, "test": test, "bootstrap": n_boot,
        "multiple_testing": f"Holm over {len(comps)} (treatment, metric) pairs",
        "comparisons": [c.to_dict() for c in comps], "decisions": decisions, "power": power_rows,
    }


def _power_row(n: int, sd: float, mde: float | None, alpha: float, power: float) -> dict:
    if sd <= 0 or n < 2:
        return {"sd_diff": sd, "mde_at_n": None, "users_for_mde": None}
    return {"sd_diff": sd, "mde_at_n": pw.paired_mde(n, sd, alpha, power),
            "users_for_mde": pw.paired_sample_size(sd, mde, alpha, power) if mde else None}


def per_user_from_lists(arms: RankedArms, k: int = 10) -> dict[str, pd.DataFrame]:
    """Per-user metrics of each arm's lists against the held-out items (same definitions as the reranker)."""
    n_rel = np.array([len(arms.relevant.get(u, ())) for u in arms.user_ids])
    out = {}
    for arm, lists in arms.lists.items():
        df = list_metrics(relevance_matrix(lists, arms.user_ids, arms.relevant), n_rel, k=k)
        df.index = pd.Index(arms.user_ids, name="user_id")
        out[arm] = df
    return out


def per_user_from_long(df: pd.DataFrame, rankers: Sequence[str]) -> dict[str, pd.DataFrame]:
    """Split the reranker's long file (columns ranker, user_id, metrics...) into arm → DataFrame."""
    for col in ("ranker", "user_id"):
        if col not in df.columns:
            raise DataError(f"per-user table lacks column {col!r} (has {list(df.columns)})")
    known = sorted(df["ranker"].unique())
    unknown = [r for r in rankers if r not in known]
    if unknown:
        raise DataError(f"unknown ranker(s) {unknown}; the per-user table has {known}")
    return {r: df[df["ranker"] == r].drop(columns="ranker").set_index("user_id") for r in rankers}


# --------------------------------------------------------------------------- simulated online
def _welch(x: np.ndarray, y: np.ndarray) -> float:
    if x.size < 2 or y.size < 2:
        return float("nan")
    if x.std() == 0 and y.std() == 0:
        return 1.0 if x.mean() == y.mean() else 0.0
    return float(sps.ttest_ind(y, x, equal_var=False).pvalue)


def _two_sample_ci(x: np.ndarray, y: np.ndarray, n_boot: int, alpha: float, seed: int) -> tuple[float, float]:
    """Bootstrap CI of mean(y) - mean(x), each group resampled on its own (different users per arm)."""
    rng = np.random.default_rng(seed)
    mx = x[rng.integers(0, x.size, size=(n_boot, x.size))].mean(axis=1)
    my = y[rng.integers(0, y.size, size=(n_boot, y.size))].mean(axis=1)
    lo, hi = np.quantile(my - mx, [alpha / 2, 1 - alpha / 2])
    return float(lo), float(hi)


def _arm_summary(values: np.ndarray, n_boot: int, alpha: float, seed: int) -> dict:
    lo, hi = bootstrap_mean_ci(values, n_boot=n_boot, alpha=alpha, seed=seed)
    return {"mean": float(values.mean()) if values.size else float("nan"), "ci_low": lo, "ci_high": hi}


def interleaved_relevance(shown: np.ndarray, a: np.ndarray, rel_a: np.ndarray, b: np.ndarray,
                          rel_b: np.ndarray) -> np.ndarray:
    """Relevance of interleaved slots, looked up from the two source lists (every shown item is in one)."""
    hit_a = ((shown[:, :, None] == a[:, None, :]) & rel_a[:, None, :]).any(axis=2)
    hit_b = ((shown[:, :, None] == b[:, None, :]) & rel_b[:, None, :]).any(axis=2)
    return (hit_a | hit_b) & (shown >= 0)


def simulate_online(arms: RankedArms, control: str, treatment: str, *, fraction: float = 0.5,
                    feature: str = "gnnReranking", salt: str = "mgw-ab-v1", sessions: int = 5,
                    model: PositionBasedModel | None = None, alpha: float = 0.05, n_boot: int = 2000,
                    seed: int = 0, k: int = 10, mde_ctr: float | None = None, power: float = 0.8) -> dict:
    """One simulated online experiment: users split by the feature flag's rollout fraction (salted hash),
    each sees its arm's list for `sessions` sessions, clicks come from the PBM. Reports CTR (share of
    sessions with a click) and NDCG per arm with CIs, the split-test result, and team-draft interleaving of
    the same two rankers over all users with the users each design needs for the effect it observed."""
    for arm in (control, treatment):
        if arm not in arms.lists:
            raise DataError(f"unknown arm {arm!r}; ranked lists exist for {sorted(arms.lists)}")
    if sessions < 1:
        raise DataError(f"sessions must be >= 1 (got {sessions})")
    model = model or PositionBasedModel()
    rng = np.random.default_rng(seed)
    users = arms.user_ids
    lc, lt = np.asarray(arms.lists[control])[:, :k], np.asarray(arms.lists[treatment])[:, :k]
    rel_c, rel_t = relevance_matrix(lc, users, arms.relevant), relevance_matrix(lt, users, arms.relevant)
    treated = FeatureFlags(rollout={feature: fraction}, salt=salt).enabled_mask(list(users), feature)
    n_t, n_c = int(treated.sum()), int((~treated).sum())
    result: dict = {"design": "simulated online: split users (feature flag) + PBM clicks; team-draft interleaving",
                    "control": control, "treatment": treatment, "feature": feature, "rollout_fraction": fraction,
                    "salt": salt, "sessions_per_user": sessions, "n_users": int(len(users)),
                    "n_control": n_c, "n_treatment": n_t,
                    "click_model": {"type": "position-based", "eta": model.eta,
                                    "attract_relevant": model.attract_relevant,
                                    "attract_irrelevant": model.attract_irrelevant}}
    rel_shown = np.where(treated[:, None], rel_t, rel_c)
    ctr = model.simulate(rel_shown, sessions, rng).any(axis=2).mean(axis=1)
    n_rel = np.array([len(arms.relevant.get(u, ())) for u in users])
    ndcg = list_metrics(rel_shown, n_rel, k=k)[f"ndcg@{k}"].to_numpy()
    if min(n_t, n_c) < 2:
        result["split"] = {"decision": "inconclusive",
                           "reason": f"an arm has fewer than 2 users (control {n_c}, treatment {n_t})"}
    else:
        split = {}
        for name, v in (("ctr", ctr), (f"ndcg@{k}", ndcg)):
            x, y = v[~treated], v[treated]
            lo, hi = _two_sample_ci(x, y, n_boot, alpha, seed + 7)
            split[name] = {"control": _arm_summary(x, n_boot, alpha, seed + 1),
                           "treatment": _arm_summary(y, n_boot, alpha, seed + 2),
                           "diff": float(y.mean() - x.mean()), "ci_low": lo, "ci_high": hi,
                           "p_welch": _welch(x, y)}
        sd = float(np.sqrt((ctr[~treated].var(ddof=1) + ctr[treated].var(ddof=1)) / 2))
        d = split["ctr"]["diff"]
        split["users_for_observed_ctr_diff"] = (pw.two_sample_size(sd, d, alpha, power, fraction)
                                                if sd > 0 and d != 0 and 0 < fraction < 1 else None)
        split["users_for_mde"] = (pw.two_sample_size(sd, mde_ctr, alpha, power, fraction)
                                  if mde_ctr and sd > 0 and 0 < fraction < 1 else None)
        split["true_ctr"] = {"control": float(model.expected_ctr(rel_c).mean()),
                             "treatment": float(model.expected_ctr(rel_t).mean())}
        result["split"] = split
    result["interleaving"] = interleave(lc, rel_c, lt, rel_t, sessions=sessions, model=model, rng=rng, k=k,
                                        alpha=alpha, n_boot=n_boot, seed=seed + 11, power=power)
    return result


def interleave(lc: np.ndarray, rel_c: np.ndarray, lt: np.ndarray, rel_t: np.ndarray, *, sessions: int,
               model: PositionBasedModel, rng: np.random.Generator, k: int = 10, alpha: float = 0.05,
               n_boot: int = 2000, seed: int = 0, power: float = 0.8) -> dict:
    """Team-draft interleaving for every user and session; the unit of analysis is the user (mean credit
    over their sessions, +1 = treatment wins), tested against 0 with a t-test and a bootstrap CI."""
    n = lc.shape[0]
    a, b = np.repeat(lc, sessions, axis=0), np.repeat(lt, sessions, axis=0)
    ra, rb = np.repeat(rel_c, sessions, axis=0), np.repeat(rel_t, sessions, axis=0)
    shown, team = team_draft(a, b, k, rng)
    rel = interleaved_relevance(shown, a, ra, b, rb)
    clicks = rng.random(rel.shape) < model.click_probs(rel)
    c = credit(clicks, team).reshape(n, sessions)
    per_user = c.mean(axis=1).astype(np.float64)
    lo, hi = bootstrap_mean_ci(per_user, n_boot=n_boot, alpha=alpha, seed=seed)
    sd = float(per_user.std(ddof=1)) if n > 1 else 0.0
    p = float(sps.ttest_1samp(per_user, 0.0).pvalue) if sd > 0 else (1.0 if per_user.mean() == 0 else 0.0)
    wins_t, wins_c = int((c > 0).sum()), int((c < 0).sum())
    mean = float(per_user.mean())
    return {"n_users": int(n), "sessions": int(c.size), "wins_treatment": wins_t, "wins_control": wins_c,
            "ties": int((c == 0).sum()),
            "preference": (wins_t / (wins_t + wins_c)) if wins_t + wins_c else None,
            "mean_credit": mean, "ci_low": lo, "ci_high": hi, "p_t": p,
            "users_for_observed_preference": (pw.paired_sample_size(sd, mean, alpha, power)
                                              if sd > 0 and mean != 0 else None)}
