"""Bootstrap interval and summary aggregation."""

from __future__ import annotations

import math

import numpy as np
import pytest

from xmsem.analysis.aggregate import aggregate, describe


def test_describe_mean_std_and_interval_contains_mean():
    values = [0.1, 0.4, 0.35, 0.8, 0.55, 0.6]
    stat = describe(values, resamples=2000, seed=3, key="g")
    assert stat.n == 6
    assert stat.mean == pytest.approx(np.mean(values))
    assert stat.std == pytest.approx(np.std(values, ddof=1))
    assert stat.ci_low < stat.mean < stat.ci_high
    assert min(values) <= stat.ci_low and stat.ci_high <= max(values)
    again = describe(values, resamples=2000, seed=3, key="g")
    assert (again.ci_low, again.ci_high) == (stat.ci_low, stat.ci_high)  # seeded


def test_describe_single_value_and_nan_ignored():
    stat = describe([0.5, float("nan")], resamples=100)
    assert stat.n == 1 and stat.mean == 0.5
    assert math.isnan(stat.std) and math.isnan(stat.ci_low)


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
