"""Seed-level statistics: numbers against scipy / closed forms, and coverage by simulation."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from scipy import stats as sps

from xmsem.analysis.stats import (
    bca_interval,
    check_interval_widths,
    jackknife_difference,
    jackknife_units,
    paired_difference,
    summarize,
    t_interval,
    t_quantile,
)


def test_t_quantile_matches_the_table():
    # textbook values of t_{df, 0.975}
    assert t_quantile(5) == pytest.approx(2.776445, abs=1e-6)  # df 4
    assert t_quantile(10) == pytest.approx(2.262157, abs=1e-6)  # df 9
    assert t_quantile(3) == pytest.approx(4.302653, abs=1e-6)  # df 2


def test_t_interval_matches_scipy():
    x = [0.71, 0.69, 0.75, 0.73, 0.70]
    low, high = t_interval(x)
    ref = sps.t.interval(0.95, len(x) - 1, loc=np.mean(x), scale=sps.sem(x))
    assert (low, high) == pytest.approx(ref, rel=1e-12)
    # by hand: mean 0.716, s = 0.0240832, half = 2.776445 * s / sqrt(5)
    half = 2.776445 * np.std(x, ddof=1) / math.sqrt(5)
    assert low == pytest.approx(0.716 - half, abs=1e-6)


def test_no_interval_below_three_units_and_nonfinite_counted():
    est = summarize([0.5, 0.7, float("nan"), float("inf")])
    assert est.n == 2 and est.n_nonfinite == 2 and est.note == "n<3"
    assert est.mean == pytest.approx(0.6)
    assert math.isnan(est.ci_low) and math.isnan(est.ci_high)
    est = summarize([0.5, 0.7, 0.6, float("nan")])
    assert est.n == 3 and est.n_nonfinite == 1 and est.note == ""
    assert (est.ci_low, est.ci_high) == pytest.approx(t_interval([0.5, 0.7, 0.6]))


def test_bca_matches_scipy_bootstrap():
    rng = np.random.default_rng(0)
    x = rng.gamma(2.0, size=30)  # skewed: BCa differs from the percentile interval
    low, high = bca_interval(x, 40000, np.random.default_rng(1))
    ref = sps.bootstrap(
        (x,), np.mean, n_resamples=40000, method="BCa", random_state=np.random.default_rng(2)
    ).confidence_interval
    assert low == pytest.approx(ref.low, abs=0.02)
    assert high == pytest.approx(ref.high, abs=0.02)
    pct = np.percentile(x[rng.integers(0, 30, (40000, 30))].mean(axis=1), [2.5, 97.5])
    assert high - pct[1] > 0.01  # the acceleration moves the upper end for right skew


def test_bca_small_n_is_never_narrower_than_t():
    x = [0.2, 0.25, 0.9, 0.3, 0.28]
    est = summarize(x, method="bca", resamples=2000)
    t_low, t_high = t_interval(x)
    assert est.ci_low <= t_low and est.ci_high >= t_high


def test_jackknife_of_independent_values_is_the_t_interval():
    x = [0.3, 0.5, 0.45, 0.62, 0.4, 0.51]
    mean, se, low, high, n = jackknife_units(x, [[i] for i in range(len(x))])
    assert n == 6 and se == pytest.approx(np.std(x, ddof=1) / math.sqrt(6))
    assert (low, high) == pytest.approx(t_interval(x), rel=1e-12)


def test_jackknife_of_pairs_closed_form():
    # U-statistic over all pairs of S seeds: U_(-i) - mean = -2 (m_i - mbar) / (S - 2), with m_i
    # the mean of seed i's pairs, so SE^2 = 4 (S-1)^2 var(m) / (S (S-2)^2)
    s = 5
    rng = np.random.default_rng(3)
    pairs = list(itertools.combinations(range(s), 2))
    vals = rng.normal(size=len(pairs))
    _, se, _, _, n = jackknife_units(vals, pairs)
    m = np.array(
        [np.mean([v for v, p in zip(vals, pairs, strict=True) if i in p]) for i in range(s)]
    )
    expected = math.sqrt(4 * (s - 1) ** 2 * np.var(m, ddof=1) / (s * (s - 2) ** 2))
    assert n == s and se == pytest.approx(expected, rel=1e-12)


def _coverage_independent(n: int, reps: int, method: str) -> float:
    rng = np.random.default_rng(11)
    hits = 0
    for _ in range(reps):
        x = rng.normal(0.5, 0.1, size=n)
        est = summarize(x, method=method, resamples=400, rng=rng)
        hits += est.ci_low <= 0.5 <= est.ci_high
    return hits / reps


def test_t_interval_covers_at_n5():
    assert _coverage_independent(5, 4000, "t") >= 0.93


def test_bca_interval_covers_at_n5():
    assert _coverage_independent(5, 1500, "bca") >= 0.93


def test_percentile_bootstrap_of_five_undercovers():
    # the audit's finding, reproduced: what the old summaries did covers ~83%
    rng = np.random.default_rng(5)
    hits = 0
    for _ in range(3000):
        x = rng.normal(size=5)
        means = x[rng.integers(0, 5, (400, 5))].mean(axis=1)
        low, high = np.percentile(means, [2.5, 97.5])
        hits += low <= 0.0 <= high
    assert 0.78 < hits / 3000 < 0.88


def _pairwise_coverage(structure: str, sigma_seed: float, sigma_pair: float, reps: int) -> float:
    """Seed effects a_i and pair noise e_ij: value(i, j) = mu + a_i + a_j + e_ij."""
    s, mu = 5, 0.4
    rng = np.random.default_rng(17)
    if structure == "all_pairs":
        pairs = list(itertools.combinations(range(s), 2))
        # seed i of A against seed i+1 of B; a unit is a run seed (A and B share it)
        target = mu
    else:
        pairs = [(i, (i + 1) % s) for i in range(s)]
        target = mu
    hits = 0
    for _ in range(reps):
        a = rng.normal(0.0, sigma_seed, size=s)
        b = rng.normal(0.0, sigma_seed, size=s)
        vals = [mu + a[i] + (b[j] if structure == "shifted" else a[j]) for i, j in pairs]
        vals = np.asarray(vals) + rng.normal(0.0, sigma_pair, size=len(pairs))
        est = summarize(vals, units=pairs)
        assert est.n == s and est.method == "jackknife"
        hits += est.ci_low <= target <= est.ci_high
    return hits / reps


@pytest.mark.parametrize(
    "structure,sigma_seed,sigma_pair",
    [
        ("all_pairs", 0.05, 0.0),
        ("all_pairs", 0.05, 0.05),
        ("all_pairs", 0.0, 0.05),
        ("shifted", 0.05, 0.02),
    ],
)
def test_pairwise_seed_level_interval_covers(structure, sigma_seed, sigma_pair):
    assert _pairwise_coverage(structure, sigma_seed, sigma_pair, 2000) >= 0.93


def test_pairs_as_independent_undercover():
    # the audit's second finding: 10 pairs of 5 seeds treated as independent cover far less
    s = 5
    pairs = list(itertools.combinations(range(s), 2))
    rng = np.random.default_rng(2)
    hits = 0
    for _ in range(2000):
        a = rng.normal(size=s)
        vals = np.array([a[i] + a[j] for i, j in pairs])
        low, high = t_interval(vals)
        hits += low <= 0.0 <= high
    assert hits / 2000 < 0.85


def test_paired_difference_matches_ttest_rel():
    a = {("s", i): v for i, v in enumerate([0.82, 0.85, 0.81, 0.86, 0.84])}
    b = {("s", i): v for i, v in enumerate([0.80, 0.84, 0.80, 0.83, 0.84])}
    b[("s", 9)] = 0.5  # unpaired unit: ignored
    res = paired_difference(a, b)
    xa, xb = np.array(list(a.values())), np.array([b[k] for k in a])
    ref = sps.ttest_rel(xa, xb)
    assert res.n == 5
    assert res.t == pytest.approx(ref.statistic, rel=1e-10)
    assert res.p_value == pytest.approx(ref.pvalue, rel=1e-10)
    d = xa - xb
    assert res.cohens_dz == pytest.approx(d.mean() / d.std(ddof=1))
    assert (res.ci_low, res.ci_high) == pytest.approx(t_interval(d))
    assert res.mean_diff == pytest.approx(0.014)


def test_paired_difference_counts_nonfinite_and_refuses_small_n():
    a = {1: 0.5, 2: float("nan"), 3: 0.6}
    b = {1: 0.4, 2: 0.5, 3: 0.5}
    res = paired_difference(a, b)
    assert res.n == 2 and res.n_nonfinite == 1 and res.note == "n<3"
    assert math.isnan(res.p_value) and math.isnan(res.ci_low)


def test_jackknife_difference_of_independent_values_is_paired_t():
    # one value per unit on each side: the jackknife of mean(a) - mean(b) is the paired t
    a = [0.82, 0.85, 0.81, 0.86, 0.84]
    b = [0.80, 0.84, 0.80, 0.83, 0.84]
    res = jackknife_difference(
        [(v, [i]) for i, v in enumerate(a)], [(v, [i]) for i, v in enumerate(b)]
    )
    ref = sps.ttest_rel(a, b)
    assert res.p_value == pytest.approx(ref.pvalue, rel=1e-9)
    assert (res.ci_low, res.ci_high) == pytest.approx(t_interval(np.subtract(a, b)), rel=1e-9)


def test_width_checker():
    x = [0.5, 0.55, 0.6, 0.52, 0.58]
    est = summarize(x)
    row = {"arch": "pgnn", "metric": "m", "n": 5, "std": est.std, "ci_low": est.ci_low,
           "ci_high": est.ci_high, "n_values": 5, "se": est.se}  # fmt: skip
    assert check_interval_widths([row]) == []
    narrow = dict(row, ci_low=est.mean - 0.8 * (est.mean - est.ci_low))
    assert len(check_interval_widths([narrow])) == 1
    # an old summary: 10 pairs of 5 seeds counted as n=10 with a percentile bootstrap
    rng = np.random.default_rng(0)
    vals = rng.normal(size=10)
    means = vals[rng.integers(0, 10, (1000, 10))].mean(axis=1)
    low, high = np.percentile(means, [2.5, 97.5])
    old = {"n": 10, "std": float(np.std(vals, ddof=1)), "ci_low": low, "ci_high": high}
    assert check_interval_widths([old])
    assert check_interval_widths([{"n": 2, "std": 1.0, "ci_low": 0.0, "ci_high": 1.0}])
    pairs = list(itertools.combinations(range(5), 2))
    pw = summarize(vals, units=pairs)
    prow = {"n": pw.n, "n_values": pw.n_values, "std": pw.std, "se": pw.se,
            "ci_low": pw.ci_low, "ci_high": pw.ci_high}  # fmt: skip
    assert check_interval_widths([prow]) == []
    assert check_interval_widths([dict(prow, se=pw.se * 1.5)])


def test_checker_command_exit_codes(tmp_path, capsys):
    from xmsem.analysis.stats import main

    x = [0.5, 0.55, 0.6, 0.52, 0.58]
    est = summarize(x)
    good = tmp_path / "good.csv"
    good.write_text(
        f"arch,metric,n,std,ci_low,ci_high\npgnn,m,5,{est.std!r},{est.ci_low!r},{est.ci_high!r}\n"
    )
    bad = tmp_path / "bad.csv"
    bad.write_text(f"arch,metric,n,std,ci_low,ci_high\npgnn,m,5,{est.std!r},0.55,0.56\n")
    assert main([str(good)]) == 0
    assert main([str(good), str(bad)]) == 1
    assert "pgnn/m: width 0.01" in capsys.readouterr().out
    assert main([]) == 2
