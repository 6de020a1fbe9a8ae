"""Every registered metric: flags well formed, and each 'reps' metric's invariance claims hold
both ways (invariant where claimed, changed by a generic transformation where not)."""

from __future__ import annotations

import math

import pytest
import torch

from xmsem.alignment import INVARIANCES, METRICS, MetricSpec, get_metric

from ._data import generic_invertible, random_orthogonal, related_pair

PARAMS = {"subspace_overlap": {"k": 3}}
REQUIRED = {
    "linear_cka",
    "linear_cka_debiased",
    "rbf_cka",
    "rbf_cka_debiased",
    "subspace_overlap",
    "probe_transfer",
    "stitching",
    "spectral",
}
REPS = sorted(n for n, s in METRICS.items() if s.inputs == "reps")


def _transforms(d: int) -> dict[str, callable]:
    q = random_orthogonal(d, seed=11)
    a = generic_invertible(d, seed=12)
    return {
        "orthogonal": lambda v: v @ q,
        "isotropic_scale": lambda v: 0.3 * v,
        # a shift of the order of the data's own spread: a metric that is not translation
        # invariant must show it (small shifts barely move cosine-neighbourhood measures)
        "translation": lambda v: v + torch.linspace(-40.0, 70.0, d, dtype=torch.float64),
        "invertible_linear": lambda v: v @ a,
    }


def test_required_names_and_flags():
    assert set(METRICS) >= REQUIRED
    for name, spec in METRICS.items():
        assert spec.name == name
        assert spec.kind in ("similarity", "distance")
        assert spec.invariances <= INVARIANCES
        assert spec.inputs in ("reps", "probe", "stitch", "spectral")
        assert callable(spec.fn)
        assert spec.doc and "\n" not in spec.doc
    # an invertible-linear invariant metric is also invariant to its special cases
    for spec in METRICS.values():
        if "invertible_linear" in spec.invariances:
            assert {"orthogonal", "isotropic_scale"} <= spec.invariances


def test_get_metric_unknown_name_lists_valid_names():
    assert get_metric("linear_cka") is METRICS["linear_cka"]
    with pytest.raises(ValueError, match="linear_cka_debiased"):
        get_metric("linear-cka")


def test_metricspec_rejects_unknown_flags():
    with pytest.raises(ValueError, match="invariances"):
        MetricSpec("x", "similarity", frozenset({"rotation"}), "reps", abs, "d")
    with pytest.raises(ValueError, match="kind"):
        MetricSpec("x", "closeness", frozenset(), "reps", abs, "d")


@pytest.mark.parametrize("name", REPS)
@pytest.mark.parametrize("side", ["x", "y"])
def test_claimed_invariances_hold_both_ways(name, side):
    spec = METRICS[name]
    x, y = related_pair(n=200, p=12, q=10)
    params = PARAMS.get(name, {})
    ref = float(spec.fn(x, y, **params))
    lo, hi = spec.bounds
    assert lo <= ref <= hi
    d = x.shape[1] if side == "x" else y.shape[1]
    for inv, t in _transforms(d).items():
        xt, yt = (t(x), y) if side == "x" else (x, t(y))
        val = float(spec.fn(xt, yt, **params))
        assert math.isfinite(val)
        if inv in spec.invariances | spec.one_sided.get(side, frozenset()):
            assert val == pytest.approx(ref, abs=1e-9), f"{name} should be invariant to {inv}"
        else:
            assert abs(val - ref) > 1e-3, f"{name} claims no {inv} invariance but is invariant"


@pytest.mark.parametrize("name", REPS)
def test_identical_inputs_give_the_extreme_value(name):
    spec = METRICS[name]
    x, _ = related_pair(n=200, p=12, q=10)
    val = float(spec.fn(x, x, **PARAMS.get(name, {})))
    assert val == pytest.approx(1.0 if spec.kind == "similarity" else 0.0, abs=1e-10)
