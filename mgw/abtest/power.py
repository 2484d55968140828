"""Sample size and power: how many users an experiment needs to see a minimum detectable effect (MDE).

Exact for t-tests (noncentral t), so small samples are not flattered by the normal approximation.
Two designs: paired (offline, every user sees both rankers) and two-sample (online, users split between
arms by a rollout fraction; an unequal split costs users, which `two_sample_*` accounts for).
"""
from __future__ import annotations

import math

import numpy as np
from scipy import stats as sps

from mgw.errors import DataError


def _check(sd: float, effect: float, alpha: float) -> None:
    if not (sd > 0 and math.isfinite(sd)):
        raise DataError(f"standard deviation must be positive and finite (got {sd})")
    if not (0 < alpha < 1):
        raise DataError(f"alpha must be in (0, 1) (got {alpha})")
    if effect == 0 or not math.isfinite(effect):
        raise DataError(f"effect must be non-zero and finite (got {effect})")


def _t_power(nc, df, alpha: float):
    tc = sps.t.ppf(1 - alpha / 2, df)
    return sps.nct.sf(tc, df, nc) + sps.nct.cdf(-tc, df, nc)


def paired_power(n, sd_diff: float, effect: float, alpha: float = 0.05):
    """Power of the two-sided paired t-test with n users, sd of per-user differences sd_diff."""
    _check(sd_diff, effect, alpha)
    n = np.asarray(n, dtype=np.float64)
    if np.any(n < 2):
        raise DataError("a paired t-test needs at least 2 users")
    out = _t_power(abs(effect) / sd_diff * np.sqrt(n), n - 1, alpha)
    return float(out) if out.ndim == 0 else out


def two_sample_power(n_total, sd: float, effect: float, alpha: float = 0.05, fraction: float = 0.5):
    """Power of the two-sided two-sample t-test when n_total users are split fraction : 1-fraction."""
    _check(sd, effect, alpha)
    if not (0 < fraction < 1):
        raise DataError(f"treatment fraction must be in (0, 1) (got {fraction})")
    n_total = np.asarray(n_total, dtype=np.float64)
    n1, n2 = n_total * fraction, n_total * (1 - fraction)
    if np.any(np.minimum(n1, n2) < 2):
        raise DataError("each arm needs at least 2 users")
    se = sd * np.sqrt(1 / n1 + 1 / n2)
    out = _t_power(abs(effect) / se, n1 + n2 - 2, alpha)
    return float(out) if out.ndim == 0 else out


def _smallest_n(power_of, target: float, lo: int) -> int:
    if not (0 < target < 1):
        raise DataError(f"power must be in (0, 1) (got {target})")
    hi = max(lo, 4)
    while power_of(hi) < target:
        hi *= 2
        if hi > 10**10:
            raise DataError("required sample size exceeds 1e10 — effect too small for this noise")
    while lo < hi:  # power is monotone in n
        mid = (lo + hi) // 2
        if power_of(mid) >= target:
            hi = mid
        else:
            lo = mid + 1
    return int(lo)


def paired_sample_size(sd_diff: float, mde: float, alpha: float = 0.05, power: float = 0.8) -> int:
    """Smallest number of paired users whose t-test detects a true mean difference `mde` with `power`."""
    _check(sd_diff, mde, alpha)
    return _smallest_n(lambda n: paired_power(n, sd_diff, mde, alpha), power, 2)


def two_sample_size(sd: float, mde: float, alpha: float = 0.05, power: float = 0.8, fraction: float = 0.5) -> int:
    """Smallest total number of users (both arms) for the two-sample t-test at the given split."""
    _check(sd, mde, alpha)
    lo = int(math.ceil(2 / min(fraction, 1 - fraction))) if 0 < fraction < 1 else 4
    return _smallest_n(lambda n: two_sample_power(n, sd, mde, alpha, fraction), power, lo)


def paired_mde(n: int, sd_diff: float, alpha: float = 0.05, power: float = 0.8) -> float:
    """Smallest true difference detectable with `power` by n paired users (bisection on the effect)."""
    if sd_diff <= 0:
        raise DataError(f"standard deviation must be positive (got {sd_diff})")
    lo, hi = 0.0, sd_diff
    while paired_power(n, sd_diff, hi, alpha) < power:
        hi *= 2
    for _ in range(60):
        mid = (lo + hi) / 2
        if mid > 0 and paired_power(n, sd_diff, mid, alpha) >= power:
            hi = mid
        else:
            lo = mid
    return float(hi)
