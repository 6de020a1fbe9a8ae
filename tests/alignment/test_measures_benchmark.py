"""``benchmarks/measures.py`` (not a test itself): a tiny run times every registered measure, and
a cell above the time budget is a projection t(n) = t(n_last) (n / n_last)^e, never run."""

from __future__ import annotations

import argparse
import importlib.util
import math
from pathlib import Path

import pytest

from xmsem.alignment import METRICS
from xmsem.snapshots.measure import MeasureSettings

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "measures.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_measures", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _args(**kw):
    base = {"d": 12, "repeat": 1, "max_seconds": 60.0, "max_gb": 8.0}
    return argparse.Namespace(**(base | kw))


@pytest.mark.slow
def test_every_registered_measure_has_a_benchmark_call(bench):
    settings = MeasureSettings()
    for name in METRICS:  # composite ones too: probe, stitch, spectral inputs
        row = bench.row(name, [48], _args(max_seconds=1e9), settings)
        seconds, estimated = row["cells"][48]
        assert not estimated and 0 < seconds < 60, name  # measured, not projected
        # --snapshot: the rows a snapshot of 2 models x 2 layers gets through pair_rows
        assert bench.snapshot_seconds(name, _args(models=2, layers=2, probe=48)) > 0, name


def test_a_cell_over_budget_is_projected_from_the_measured_growth(bench):
    row = bench.row("linear_cka", [40, 80, 160], _args(max_seconds=0.0), MeasureSettings())
    (t20, measured), (t40, est40), (t80, est80) = (row["cells"][n] for n in (20, 40, 80))
    assert not measured and est40 and est80  # only the first (a quarter of 80) was run
    assert t40 == pytest.approx(t20 * 2**3) and t80 == pytest.approx(t20 * 4**3)  # e = 3 default
    assert row["exponent"] == 3.0
    assert math.isclose(bench._exponent([(10, 1.0), (20, 4.0)]), 2.0)
