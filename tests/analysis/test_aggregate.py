"""Seed-level intervals in the summary aggregation."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as sps

from xmsem.analysis.aggregate import aggregate, describe, nonfinite_rows, paired_comparisons


def test_describe_mean_std_and_t_interval():
    values = [0.1, 0.4, 0.35, 0.8, 0.55, 0.6]
    stat = describe(values, resamples=2000, seed=3, key="g")
    assert stat.n == 6 and stat.method == "t"
    assert stat.mean == pytest.approx(np.mean(values))
    assert stat.std == pytest.approx(np.std(values, ddof=1))
    ref = sps.t.interval(0.95, 5, loc=np.mean(values), scale=sps.sem(values))
    assert (stat.ci_low, stat.ci_high) == pytest.approx(ref)
    bca = describe(values, resamples=2000, seed=3, key="g", method="bca")
    again = describe(values, resamples=2000, seed=3, key="g", method="bca")
    assert (again.ci_low, again.ci_high) == (bca.ci_low, bca.ci_high)  # seeded
    assert bca.ci_low <= stat.ci_low and bca.ci_high >= stat.ci_high  # n <= 10: never below t


def test_describe_single_value_and_nan_counted():
    stat = describe([0.5, float("nan"), None], resamples=100)
    assert stat.n == 1 and stat.mean == 0.5 and stat.n_nonfinite == 2
    assert math.isnan(stat.std) and math.isnan(stat.ci_low) and stat.note == "n<3"


def test_aggregate_groups_by_keys():
    rows = [
        {
            "dataset": "d",
            "arch": "pgnn",
            "epoch": 1,
            "layer": "h1",
            "metric": "m",
            "source": "live",
            "value": v,
        }
        for v in (1.0, 2.0, 3.0)
    ] + [
        {
            "dataset": "d",
            "arch": "mlp",
            "epoch": None,
            "layer": None,
            "metric": "test_acc",
            "source": "final",
            "value": 0.9,
        }
    ]
    out = {(r["arch"], r["metric"]): r for r in aggregate(rows, resamples=200)}
    assert out[("pgnn", "m")]["mean"] == pytest.approx(2.0)
    assert out[("pgnn", "m")]["n"] == 3
    assert out[("mlp", "test_acc")]["epoch"] is None


def _row(arch, unit, value, metric="test_acc", source="final", units=None):
    return {"dataset": "d", "arch": arch, "epoch": None, "layer": None, "metric": metric,
            "source": source, "value": value, "units": units or (unit,), "run": f"r{unit}"}  # fmt: skip


def test_aggregate_counts_units_not_rows_for_pairs():
    # 4 seeds, all 6 pairs: n = 4 units, 6 values, jackknife interval
    pairs = [(0, 1), (0, 2), (0, 3), (1, 2), (1, 3), (2, 3)]
    vals = [0.5, 0.6, 0.55, 0.52, 0.58, 0.61]
    rows = [
        _row("pgnn", None, v, "seed_cka", "cross_run", p) for v, p in zip(vals, pairs, strict=True)
    ]
    (out,) = aggregate(rows)
    assert (out["n"], out["n_values"], out["method"]) == (4, 6, "jackknife")
    assert out["mean"] == pytest.approx(np.mean(vals))


def test_paired_comparisons_and_nonfinite_listing():
    a = [0.81, 0.83, 0.82, 0.86, 0.84]
    b = [0.80, 0.80, 0.82, 0.83, float("nan")]
    rows = [_row("pgnn", i, v) for i, v in enumerate(a)] + [
        _row("mlp", i, v) for i, v in enumerate(b)
    ]
    (res,) = paired_comparisons(rows, [("pgnn", "mlp")])
    ref = sps.ttest_rel(a[:4], b[:4])
    assert (res["n"], res["n_nonfinite"], res["method"]) == (4, 1, "paired-t")
    assert res["p_value"] == pytest.approx(ref.pvalue) and res["t"] == pytest.approx(ref.statistic)
    (bad,) = nonfinite_rows(rows)
    assert (bad["arch"], bad["run"], bad["value"]) == ("mlp", "r4", "nan")
