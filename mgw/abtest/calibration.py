"""Does the A/B machinery keep its promises? Measured, not assumed:

- A/A false-positive rate: experiments with no true difference, repeated many times; a calibrated test
  rejects in about alpha of them.
- Power on a planted difference: a known true effect is added; the detection rate should match the power
  `power.py` predicts (that also checks the sample-size formula).

Offline, the null is built from the experiment's *own* per-user differences by random sign flips (swapping
the arm labels per user), which keeps their real shape — many exact ties at 0, heavy tails — instead of
assuming normality. Online, each A/A run re-splits users with a fresh salt and re-simulates clicks.
Everything is vectorised over runs.
"""
from __future__ import annotations

import numpy as np
from scipy import stats as sps

from mgw.abtest import power as pw
from mgw.abtest.bucketing import buckets
from mgw.abtest.clickmodel import PositionBasedModel
from mgw.abtest.interleaving import credit, team_draft
from mgw.abtest.stats import paired_t_pvalues_rows, wilcoxon_pvalues_rows
from mgw.errors import DataError


def _binom_ci(k: int, n: int, alpha: float = 0.05) -> tuple[float, float]:
    """Clopper–Pearson interval for a rate measured as k of n runs."""
    ci = sps.binomtest(int(k), int(n)).proportion_ci(confidence_level=1 - alpha, method="exact")
    return float(ci.low), float(ci.high)


def _rate(reject: np.ndarray) -> dict:
    k, n = int(reject.sum()), int(reject.size)
    lo, hi = _binom_ci(k, n)
    return {"rate": k / n, "ci_low": lo, "ci_high": hi, "rejections": k, "runs": n}


def _bootstrap_reject_rows(d: np.ndarray, n_boot: int, alpha: float, rng: np.random.Generator,
                           direction: int = 0) -> np.ndarray:
    """Percentile-bootstrap CI excludes 0 (direction 0: either side; +1: CI above 0), per row."""
    runs, n = d.shape
    out = np.empty(runs, dtype=bool)
    for r in range(runs):
        means = d[r][rng.integers(0, n, size=(n_boot, n))].mean(axis=1)
        lo, hi = np.quantile(means, [alpha / 2, 1 - alpha / 2])
        out[r] = (lo > 0) if direction > 0 else (lo > 0 or hi < 0)
    return out


def _signflip(d: np.ndarray, runs: int, rng: np.random.Generator) -> np.ndarray:
    return d[None, :] * rng.choice(np.array([-1.0, 1.0]), size=(runs, d.size))


def aa_offline(diffs, runs: int = 200, alpha: float = 0.05, n_boot: int = 500, seed: int = 0) -> dict:
    """False-positive rate of the paired t, Wilcoxon and bootstrap under a sign-flip null of `diffs`."""
    d = np.asarray(diffs, dtype=np.float64)
    if d.ndim != 1 or d.size < 2:
        raise DataError("need a 1-D array of at least 2 per-user differences")
    if not np.any(d):
        raise DataError("all per-user differences are 0 (identical rankers): the A/A null has no noise to test")
    rng = np.random.default_rng(seed)
    null = _signflip(d, runs, rng)
    p_t, p_w = paired_t_pvalues_rows(null), wilcoxon_pvalues_rows(null)
    boot = _bootstrap_reject_rows(null, n_boot, alpha, rng) if n_boot else None
    out = {"runs": runs, "alpha": alpha, "n_users": int(d.size), "null": "per-user sign flips of observed differences",
           "t": _rate(p_t < alpha), "wilcoxon": _rate(p_w < alpha),
           "p_values_t": p_t.tolist()}
    if boot is not None:
        out["bootstrap"] = _rate(boot)
    return out


def planted_offline(diffs, effect: float, runs: int = 200, alpha: float = 0.05, seed: int = 0) -> dict:
    """Detection rate (one-sided: significant AND positive) when `effect` is added to null differences,
    next to the power the noncentral-t formula predicts for the same n and sd."""
    d = np.asarray(diffs, dtype=np.float64)
    if d.ndim != 1 or d.size < 2 or not np.any(d):
        raise DataError("need at least 2 per-user differences, not all 0")
    rng = np.random.default_rng(seed)
    centred = d - d.mean()
    sample = _signflip(centred, runs, rng) + effect
    p_t = paired_t_pvalues_rows(sample)
    p_w = wilcoxon_pvalues_rows(sample)
    pos = sample.mean(axis=1) > 0
    sd = float(centred.std(ddof=1))
    return {"runs": runs, "alpha": alpha, "n_users": int(d.size), "effect": effect, "sd_diff": sd,
            "predicted_power_t": pw.paired_power(d.size, sd, effect, alpha),
            "t": _rate((p_t < alpha) & pos), "wilcoxon": _rate((p_w < alpha) & pos),
            "users_for_effect_at_80pct": pw.paired_sample_size(sd, effect, alpha, 0.8)}


def _split_masks(user_ids, runs: int, fraction: float, salt: str) -> np.ndarray:
    """[runs, n] treatment masks, one fresh salt per run (the hash bucketing used in production)."""
    ids = list(user_ids)
    return np.stack([buckets(ids, "aa", f"{salt}/aa-run-{r}") < fraction for r in range(runs)])


def aa_online(rel: np.ndarray, user_ids, runs: int = 200, fraction: float = 0.5, sessions: int = 5,
              model: PositionBasedModel | None = None, alpha: float = 0.05, salt: str = "mgw-ab-v1",
              seed: int = 0, lift: float = 0.0) -> dict:
    """Split-test false-positive rate (lift=0) or detection rate (lift>0: treatment users' click
    probabilities scaled by 1+lift) with every user shown the same ranker's lists `rel` [n, K]."""
    model = model or PositionBasedModel()
    rng = np.random.default_rng(seed)
    rel = np.asarray(rel, dtype=bool)
    masks = _split_masks(user_ids, runs, fraction, salt)
    probs = model.click_probs(rel)  # [n, K]
    boosted = np.minimum(probs * (1 + lift), 1.0)
    ctr = np.empty(masks.shape)
    for r in range(runs):  # [n, sessions, K] per run keeps memory flat
        p = np.where(masks[r][:, None], boosted, probs)[:, None, :]
        ctr[r] = (rng.random((rel.shape[0], sessions, rel.shape[1])) < p).any(axis=2).mean(axis=1)
    x = np.where(~masks, ctr, np.nan)
    y = np.where(masks, ctr, np.nan)
    nx, ny = (~masks).sum(1), masks.sum(1)
    mx, my = np.nanmean(x, 1), np.nanmean(y, 1)
    vx, vy = np.nanvar(x, 1, ddof=1), np.nanvar(y, 1, ddof=1)
    se2 = vx / nx + vy / ny
    t = (my - mx) / np.sqrt(se2)
    df = se2 ** 2 / ((vx / nx) ** 2 / (nx - 1) + (vy / ny) ** 2 / (ny - 1))
    p = 2 * sps.t.sf(np.abs(t), df)
    true_c = model.expected_ctr(rel).mean()
    true_t = (1 - np.prod(1 - boosted, axis=1)).mean()
    out = {"runs": runs, "alpha": alpha, "n_users": int(rel.shape[0]), "fraction": fraction,
           "sessions": sessions, "lift_on_click_prob": lift, "true_ctr_diff": float(true_t - true_c),
           "test": "Welch t on per-user CTR"}
    if lift == 0:
        out["welch"] = _rate(p < alpha)
    else:
        sd = float(np.sqrt(np.mean((vx + vy) / 2)))
        out["welch"] = _rate((p < alpha) & (my > mx))
        out["predicted_power"] = pw.two_sample_power(rel.shape[0], sd, true_t - true_c, alpha, fraction)
    return out


def aa_interleaving(lists: np.ndarray, rel: np.ndarray, runs: int = 50, sessions: int = 5,
                    model: PositionBasedModel | None = None, alpha: float = 0.05, seed: int = 0) -> dict:
    """Team-draft interleaving of a ranker with itself: the per-user credit t-test should reject ~alpha."""
    model = model or PositionBasedModel()
    rng = np.random.default_rng(seed)
    n = lists.shape[0]
    a = np.repeat(lists, sessions, axis=0)
    ra = np.repeat(np.asarray(rel, dtype=bool), sessions, axis=0)
    pvals = np.empty(runs)
    for r in range(runs):
        shown, team = team_draft(a, a, lists.shape[1], rng)
        # identical lists: team draft shows them in the original order, so relevance carries over by position
        clicks = rng.random(ra.shape) < model.click_probs(ra)
        per_user = credit(clicks, team).reshape(n, sessions).mean(axis=1)
        pvals[r] = paired_t_pvalues_rows(per_user[None, :])[0]
    return {"runs": runs, "alpha": alpha, "n_users": int(n), "sessions": sessions,
            "t": _rate(pvals < alpha)}
