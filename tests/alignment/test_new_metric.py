"""Adding a metric = one function + one registry entry: a metric registered here (the RV
coefficient, which equals linear CKA: an independent reference) flows into the live rows, the
cross-run analysis, the report and the figures without touching any of them."""

from __future__ import annotations

import pytest
import torch

from xmsem.alignment import METRICS, MetricSpec, quantity
from xmsem.alignment.registry import register, unregister
from xmsem.snapshots.measure import MeasureSettings, pair_rows


def rv_coefficient(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """RV coefficient (Robert & Escoufier 1976): tr(K L) / sqrt(tr(K K) tr(L L)) with
    K = X_c X_c^T, L = Y_c Y_c^T; equals linear CKA."""
    x = x.double() - x.double().mean(0)
    y = y.double() - y.double().mean(0)
    k, l_ = x @ x.T, y @ y.T
    return (k * l_).sum() / ((k * k).sum() * (l_ * l_).sum()).sqrt()


@pytest.fixture
def rv_metric():
    spec = register(MetricSpec(
        "rv_test", "similarity", frozenset({"orthogonal", "isotropic_scale", "translation"}),
        "reps", rv_coefficient, "RV coefficient (test metric).", label="RV coefficient",
        direction="symmetric in A and B",
    ))  # fmt: skip
    yield spec
    unregister("rv_test")
    assert "rv_test" not in METRICS


def _reps(seed: int) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(80, 4, generator=g, dtype=torch.float64)
    return {"h1": z @ torch.randn(4, 6, generator=g, dtype=torch.float64)
            + 0.5 * torch.randn(80, 6, generator=g, dtype=torch.float64)}  # fmt: skip


def test_registering_twice_is_an_error(rv_metric):
    with pytest.raises(ValueError, match="already registered"):
        register(rv_metric)


def test_new_metric_reaches_live_rows(rv_metric):
    s = MeasureSettings(metrics=["linear_cka", "rv_test"])
    labels = torch.arange(80) % 3
    rows = pair_rows("a", "b", _reps(0), _reps(1), [("h1", "h1")], labels, 40, s)
    got = {r["metric"]: r["value"] for r in rows}
    assert got["rv_test"] == pytest.approx(got["linear_cka"], abs=1e-12)
    assert 0.0 < got["rv_test"] < 1.0
    assert quantity("rv_test").label == "RV coefficient"
    assert quantity("seed_rv_test").label == "seed-vs-seed RV coefficient"


def test_new_metric_reaches_cross_run_analysis(rv_metric, tmp_path):
    from xmsem.analysis import analyze_sweep
    from xmsem.analysis.aggregate import read_summary
    from xmsem.analysis.synthetic import write_sweep

    sweep = write_sweep(tmp_path / "sweep", range(3))
    result = analyze_sweep(sweep, metrics=["linear_cka", "rv_test"], subspace_k=4,
                           bootstrap=50, figures=True)  # fmt: skip
    summary = read_summary(result.summary_csv)
    rv = {(r["arch"], r["epoch"], r["layer"]): r["mean"] for r in summary
          if r["metric"] == "seed_rv_test"}  # fmt: skip
    cka = {(r["arch"], r["epoch"], r["layer"]): r["mean"] for r in summary
           if r["metric"] == "seed_linear_cka"}  # fmt: skip
    assert rv and rv.keys() == cka.keys()
    for key, value in rv.items():
        assert value == pytest.approx(cka[key], abs=1e-9)
    report = result.report_md.read_text()
    assert "seed-vs-seed RV coefficient" in report
    assert any("rv_test" in p.name for p in result.figures)
