"""Paired statistics, Holm, power and the decision rule — checked against scipy and textbook values."""
import numpy as np
import pytest
from scipy import stats as sps

from mgw.abtest import power as pw
from mgw.abtest.stats import (apply_holm, compare_paired, decide, effect_size_dz, holm, paired_bootstrap_ci,
                              paired_t_pvalue, wilcoxon_pvalue, wilcoxon_pvalues_rows)
from mgw.errors import DataError


def _tied(seed, n=300, shift=0.03):
    """ndcg-like paired data: many users at 0 for both arms, values on a coarse grid (ties)."""
    rng = np.random.default_rng(seed)
    a = np.round(np.clip(rng.normal(0.3, 0.3, n), 0, 1), 1)
    b = np.round(np.clip(a + rng.normal(shift, 0.2, n), 0, 1), 1)
    return a, b


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_tests_match_scipy(seed):
    a, b = _tied(seed)
    assert paired_t_pvalue(a, b) == pytest.approx(sps.ttest_rel(b, a).pvalue, rel=1e-9)
    ref = sps.wilcoxon(b - a, zero_method="wilcox", correction=False, method="approx").pvalue
    assert wilcoxon_pvalue(a, b) == pytest.approx(ref, rel=1e-9)


def test_identical_arms_give_no_evidence():
    a = np.linspace(0, 1, 50)
    assert paired_t_pvalue(a, a) == 1.0 and wilcoxon_pvalue(a, a) == 1.0
    assert effect_size_dz(a, a) == 0.0
    assert paired_bootstrap_ci(a, a) == (0.0, 0.0, 0.0)


def test_wilcoxon_rows_vectorised_equals_single():
    rng = np.random.default_rng(3)
    d = np.round(rng.normal(0.05, 0.3, (5, 80)), 1)
    rows = wilcoxon_pvalues_rows(d)
    assert rows == pytest.approx([wilcoxon_pvalue(np.zeros(80), r) for r in d])


def test_holm_textbook():
    assert holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert holm([0.02, 0.3]) == pytest.approx([0.04, 0.3])
    assert holm([0.5, 0.9]) == pytest.approx([1.0, 1.0])  # monotone step-down, capped at 1


def test_bootstrap_ci_covers_the_shift():
    rng = np.random.default_rng(4)
    a = rng.normal(0, 1, 400)
    b = a + 0.5 + rng.normal(0, 0.5, 400)
    diff, lo, hi = paired_bootstrap_ci(a, b, n_boot=1000, seed=1)
    assert lo < 0.5 < hi and lo < diff < hi and hi - lo < 0.2


@pytest.mark.parametrize("a,b", [([1, 2, 3], [1, 2]), ([1, np.nan], [1, 2]), ([[1, 2]], [[1, 2]])])
def test_bad_pairs_raise(a, b):
    with pytest.raises(DataError):
        paired_t_pvalue(a, b)


def _decide(a, b_by_metric, min_users=30, mde=0.02):
    comps = [compare_paired(a, b, m, "A", "B", n_boot=500) for m, b in b_by_metric.items()]
    apply_holm(comps)
    return decide(comps, "ndcg@10", mde=mde, min_users=min_users)


def test_decision_rule():
    rng = np.random.default_rng(5)
    a = rng.uniform(0, 1, 400)
    noise = lambda s: rng.normal(0, 0.05, 400) + s  # noqa: E731
    assert _decide(a, {"ndcg@10": a + noise(0.05), "recall@10": a + noise(0)}).decision == "ship"
    assert _decide(a, {"ndcg@10": a + noise(-0.05), "recall@10": a + noise(0)}).decision == "do not ship"
    guard = _decide(a, {"ndcg@10": a + noise(0.05), "recall@10": a + noise(-0.05)})
    assert guard.decision == "do not ship" and "recall@10" in guard.reason
    equiv = _decide(a, {"ndcg@10": a + rng.normal(0, 0.01, 400)})
    assert equiv.decision == "do not ship" and "±0.02" in equiv.reason
    noisy = _decide(a, {"ndcg@10": a + rng.normal(0, 0.5, 400)})
    assert noisy.decision == "inconclusive" and "paired users" in noisy.reason
    few = _decide(a[:10], {"ndcg@10": a[:10] + 0.3})
    assert few.decision == "inconclusive" and "min_users" in few.reason


def test_power_textbook_values():
    # G*Power: paired t, d=0.5, alpha .05 two-sided, power .8 → 34; two groups d=0.5 → 64 per group
    assert pw.paired_sample_size(1.0, 0.5) == 34
    assert pw.two_sample_size(1.0, 0.5) in (128, 129)
    assert pw.two_sample_size(1.0, 0.5, fraction=0.1) > pw.two_sample_size(1.0, 0.5)
    ns = np.array([10, 50, 200, 1000])
    p = pw.paired_power(ns, 1.0, 0.2)
    assert np.all(np.diff(p) > 0) and p[-1] > 0.99
    mde = pw.paired_mde(200, 1.0)
    assert pw.paired_power(200, 1.0, mde) == pytest.approx(0.8, abs=1e-6)
    with pytest.raises(DataError):
        pw.paired_sample_size(0.0, 0.1)
