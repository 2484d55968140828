"""Paired statistics for comparing two rankers on the same users, and the ship / do-not-ship rule.

Offline A/B is a *paired* design: every test user is scored by both rankers, so the unit of analysis
is the per-user difference d_i = metric_B(i) - metric_A(i). Everything here works on plain numpy arrays
so it can be checked without any model. Row-vectorised variants (`*_rows`) exist for calibration, where
thousands of simulated experiments are tested at once.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
from scipy import stats as sps

from mgw.errors import DataError
from mgw.rerank.metrics import holm  # noqa: F401  (one definition, used here and by mgw train)

DECISIONS = ("ship", "do not ship", "inconclusive")


def _as_pair(a, b) -> tuple[np.ndarray, np.ndarray]:
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.ndim != 1 or a.shape != b.shape:
        raise DataError(f"paired samples must be 1-D and of equal length (got {a.shape} and {b.shape})")
    if not (np.isfinite(a).all() and np.isfinite(b).all()):
        raise DataError("paired samples contain NaN or infinite values")
    return a, b


def bootstrap_mean_ci(x, n_boot: int = 2000, alpha: float = 0.05, seed: int = 0,
                      chunk: int = 250) -> tuple[float, float]:
    """Percentile bootstrap CI of mean(x). For paired data pass the differences (users are resampled
    as pairs, which keeps the pairing). Chunked so memory stays at chunk*n floats."""
    x = np.asarray(x, dtype=np.float64)
    n = x.size
    if n < 2:
        return (float("nan"), float("nan"))
    rng = np.random.default_rng(seed)
    means = np.empty(n_boot)
    for start in range(0, n_boot, chunk):
        stop = min(n_boot, start + chunk)
        idx = rng.integers(0, n, size=(stop - start, n))
        means[start:stop] = x[idx].mean(axis=1)
    lo, hi = np.quantile(means, [alpha / 2, 1 - alpha / 2])
    return float(lo), float(hi)


def paired_bootstrap_ci(a, b, n_boot: int = 2000, alpha: float = 0.05, seed: int = 0) -> tuple[float, float, float]:
    """(mean difference b-a, CI low, CI high) with users resampled as pairs."""
    a, b = _as_pair(a, b)
    d = b - a
    lo, hi = bootstrap_mean_ci(d, n_boot=n_boot, alpha=alpha, seed=seed)
    return float(d.mean()), lo, hi


def paired_t_pvalue(a, b) -> float:
    """Two-sided paired t-test p-value; 1.0 when every difference is zero (no evidence of any change)."""
    a, b = _as_pair(a, b)
    return float(paired_t_pvalues_rows((b - a)[None, :])[0])


def paired_t_pvalues_rows(d: np.ndarray) -> np.ndarray:
    """Two-sided one-sample t-test of mean 0 for each row of a [runs, n] matrix of paired differences."""
    d = np.atleast_2d(np.asarray(d, dtype=np.float64))
    n = d.shape[1]
    mean = d.mean(axis=1)
    sd = d.std(axis=1, ddof=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        t = mean / (sd / np.sqrt(n))
    p = 2 * sps.t.sf(np.abs(t), df=n - 1)
    # zero variance: identical differences. All-zero → p=1; constant non-zero → p=0 (a sure shift).
    const = sd == 0
    p[const] = np.where(mean[const] == 0, 1.0, 0.0)
    return p


def wilcoxon_pvalue(a, b) -> float:
    """Two-sided Wilcoxon signed-rank p-value (zero differences dropped, 'wilcox'); 1.0 if all are zero."""
    a, b = _as_pair(a, b)
    return float(wilcoxon_pvalues_rows((b - a)[None, :])[0])


def wilcoxon_pvalues_rows(d: np.ndarray) -> np.ndarray:
    """Signed-rank test per row with the normal approximation, tie- and zero-corrected (zeros dropped).

    Vectorised over rows, so A/A calibration can test thousands of experiments in one call; for the sample
    sizes an A/B needs (n >= 30 non-zero differences) the normal approximation is what scipy uses too."""
    d = np.atleast_2d(np.asarray(d, dtype=np.float64))
    runs, n = d.shape
    nz = d != 0
    absd = np.where(nz, np.abs(d), np.inf)  # zeros ranked last and then masked out
    ranks = np.empty_like(absd)
    tie_term = np.zeros(runs)
    for r in range(runs):  # rankdata with ties, per row (cheap: n log n)
        ranks[r] = sps.rankdata(absd[r])
        vals, counts = np.unique(absd[r][nz[r]], return_counts=True)
        tie_term[r] = ((counts ** 3 - counts).sum()) / 48.0
    m = nz.sum(axis=1)
    w_plus = np.where(nz & (d > 0), ranks, 0).sum(axis=1)
    mean_w = m * (m + 1) / 4.0
    var_w = m * (m + 1) * (2 * m + 1) / 24.0 - tie_term
    with np.errstate(divide="ignore", invalid="ignore"):
        z = (w_plus - mean_w) / np.sqrt(var_w)
    p = 2 * sps.norm.sf(np.abs(z))
    p[(m == 0) | ~np.isfinite(p)] = 1.0
    return np.minimum(p, 1.0)


def effect_size_dz(a, b) -> float:
    """Cohen's d_z for paired data: mean difference / sd of differences (0 when nothing differs)."""
    a, b = _as_pair(a, b)
    d = b - a
    sd = d.std(ddof=1) if d.size > 1 else 0.0
    if sd == 0:
        return 0.0 if d.mean() == 0 else float(np.sign(d.mean()) * np.inf)
    return float(d.mean() / sd)


@dataclass
class PairedComparison:
    """One metric, treatment vs control, on the same users."""

    metric: str
    control: str
    treatment: str
    n_users: int
    mean_control: float
    mean_treatment: float
    diff: float  # treatment - control
    rel_diff: float | None  # diff / mean_control
    ci_low: float
    ci_high: float
    sd_diff: float
    p_t: float
    p_wilcoxon: float
    effect_dz: float
    p_holm: float = float("nan")  # filled by `apply_holm` across the experiment's family
    significant: bool = False
    test: str = "t"

    def to_dict(self) -> dict:
        return asdict(self)


def compare_paired(a, b, metric: str, control: str, treatment: str, n_boot: int = 2000, alpha: float = 0.05,
                   seed: int = 0) -> PairedComparison:
    """All paired statistics for one metric (Holm adjustment comes later, across metrics and arms)."""
    a, b = _as_pair(a, b)
    diff, lo, hi = paired_bootstrap_ci(a, b, n_boot=n_boot, alpha=alpha, seed=seed)
    mean_a = float(a.mean())
    return PairedComparison(
        metric=metric, control=control, treatment=treatment, n_users=int(a.size),
        mean_control=mean_a, mean_treatment=float(b.mean()), diff=diff,
        rel_diff=(diff / mean_a) if mean_a != 0 else None, ci_low=lo, ci_high=hi,
        sd_diff=float((b - a).std(ddof=1)) if a.size > 1 else 0.0,
        p_t=paired_t_pvalue(a, b), p_wilcoxon=wilcoxon_pvalue(a, b), effect_dz=effect_size_dz(a, b))


def apply_holm(comparisons: list[PairedComparison], alpha: float = 0.05, test: str = "t") -> None:
    """Holm-adjust the chosen test's p-values over the whole family; a comparison is significant when the
    adjusted p < alpha AND the bootstrap CI excludes 0 on the same side (both must agree)."""
    if test not in ("t", "wilcoxon"):
        raise DataError(f"unknown test {test!r} (use 't' or 'wilcoxon')")
    raw = [c.p_t if test == "t" else c.p_wilcoxon for c in comparisons]
    for c, p in zip(comparisons, holm(raw)):
        c.p_holm = float(p)
        c.test = test
        ci_agrees = (c.ci_low > 0) if c.diff > 0 else (c.ci_high < 0)
        c.significant = bool(p < alpha and ci_agrees)


@dataclass
class Decision:
    decision: str  # one of DECISIONS
    reason: str
    primary_metric: str
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)


def decide(comparisons: list[PairedComparison], primary_metric: str, alpha: float = 0.05, mde: float | None = None,
           min_users: int = 30, power: float = 0.8) -> Decision:
    """The ship rule for one treatment vs control, given its Holm-adjusted comparisons.

    - too few users → inconclusive (the tests' error rates are not trustworthy there);
    - primary metric significantly better and no other metric significantly worse → ship;
    - primary significantly worse, or better but a guardrail metric significantly worse → do not ship;
    - not significant: if the CI lies inside ±mde → do not ship (no practically relevant gain, the test had
      the resolution to see one); otherwise inconclusive, and the reason says how many users would be needed.
    """
    from mgw.abtest.power import paired_sample_size  # local: power imports nothing from here

    by_metric = {c.metric: c for c in comparisons}
    if primary_metric not in by_metric:
        raise DataError(f"primary metric {primary_metric!r} not among compared metrics {sorted(by_metric)}")
    p = by_metric[primary_metric]
    fmt = (f"{primary_metric} {p.mean_control:.4f} → {p.mean_treatment:.4f} (Δ={p.diff:+.4f}, "
           f"95% CI [{p.ci_low:+.4f}, {p.ci_high:+.4f}], Holm p={p.p_holm:.3g}, n={p.n_users})")
    if p.n_users < min_users:
        return Decision("inconclusive", f"only {p.n_users} paired users, fewer than min_users={min_users}; {fmt}",
                        primary_metric)
    worse = [c for c in comparisons if c.metric != primary_metric and c.significant and c.diff < 0]
    notes = [f"{c.metric} significantly worse (Δ={c.diff:+.4f}, Holm p={c.p_holm:.3g})" for c in worse]
    if p.significant and p.diff > 0:
        if worse:
            return Decision("do not ship", f"primary improves but a guardrail regresses: {'; '.join(notes)}; {fmt}",
                            primary_metric, notes)
        if mde is not None and p.diff < mde:
            notes.append(f"gain {p.diff:+.4f} is significant but below the minimum detectable effect {mde}")
        return Decision("ship", f"significantly better on {fmt}", primary_metric, notes)
    if p.significant and p.diff < 0:
        return Decision("do not ship", f"significantly worse on {fmt}", primary_metric, notes)
    if mde is not None and -mde < p.ci_low and p.ci_high < mde:
        return Decision("do not ship", f"no gain: the 95% CI lies within ±{mde} (equivalent for practical purposes); "
                        f"{fmt}", primary_metric, notes)
    reason = f"no significant difference; {fmt}"
    if mde is not None and p.sd_diff > 0:
        need = paired_sample_size(p.sd_diff, mde, alpha=alpha, power=power)
        reason += f"; detecting Δ={mde} at power {power} needs about {need} paired users"
    return Decision("inconclusive", reason, primary_metric, notes)
