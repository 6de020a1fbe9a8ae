"""Every measure module of ``xmsem.alignment.measures``: registered by discovery alone, NaN with a
warning on non-finite input, float64 results on the inputs' device from float32 input, the
prepare/finish split equal to the function, options checked with one-line errors, symmetric
measures symmetric, and the seed-copy path equal to the pairwise function."""

from __future__ import annotations

import math
import warnings

import pytest
import torch

from xmsem.alignment import METRICS, DegenerateInputWarning, check_metric_params, measures
from xmsem.alignment.batched import prepare_stack
from xmsem.alignment.measures._common import Undefined, undefined
from xmsem.alignment.registry import SYMMETRIC
from xmsem.snapshots.copies import seed_pair_rows
from xmsem.snapshots.measure import MeasureSettings

from .._data import related_pair

NAMES = sorted(n for n, s in METRICS.items() if s.fn.__module__.startswith(measures.__name__))
DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


def test_discovery_registers_every_module():
    assert len(measures.MODULES) >= 15
    assert len(NAMES) >= len(measures.MODULES)
    for module in measures.MODULES:
        assert any(METRICS[n].fn.__module__.endswith(f".{module}") for n in NAMES), module


@pytest.mark.parametrize("name", NAMES)
def test_nonfinite_input_gives_nan_with_a_warning(name):
    x, y = related_pair(n=60, p=6, q=5)
    x[3, 2] = float("nan")
    with pytest.warns(DegenerateInputWarning):
        assert math.isnan(float(METRICS[name].fn(x, y)))
    with pytest.warns(DegenerateInputWarning):
        assert math.isnan(float(METRICS[name].fn(y, x)))


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name", NAMES)
def test_float32_input_gives_float64_on_the_same_device(name, device):
    x, y = related_pair(n=60, p=6, q=5)
    ref = METRICS[name].fn(x, y)
    out = METRICS[name].fn(x.float().to(device), y.float().to(device))
    assert out.dtype == torch.float64 and out.ndim == 0 and out.device.type == device
    assert float(out) == pytest.approx(float(ref), abs=1e-4)


@pytest.mark.parametrize("name", [n for n in NAMES if METRICS[n].prepare is not None])
def test_prepare_finish_equals_the_function(name):
    spec = METRICS[name]
    x, y = related_pair(n=60, p=6, q=5)
    s = MeasureSettings()
    assert spec.compute_finish(spec.prepare_one(x, s), spec.prepare_one(y, s), s) == pytest.approx(
        float(spec.fn(x, y)), abs=1e-12
    )


@pytest.mark.parametrize("name", [n for n in NAMES if METRICS[n].direction == SYMMETRIC])
def test_symmetric_measures_are_symmetric(name):
    x, y = related_pair(n=60, p=6, q=5)
    assert float(METRICS[name].fn(x, y)) == pytest.approx(float(METRICS[name].fn(y, x)), abs=1e-10)


@pytest.mark.parametrize("name", [n for n in NAMES if METRICS[n].options])
def test_options_are_checked_in_one_line(name):
    spec = METRICS[name]
    kw = next(iter(spec.options))
    check_metric_params({name: {kw: spec.defaults[kw]}})  # the default is valid
    for bad in ("nonsense", -1, None):
        if not spec.options[kw].check(bad):
            with pytest.raises(ValueError, match=rf"^metric_params\.{name}\.{kw}=.*valid: [^\n]+$"):
                check_metric_params({name: {kw: bad}})
            break
    with pytest.raises(ValueError, match=f"metric_params.{name}.no_such: not an option"):
        check_metric_params({name: {"no_such": 1}})
    with pytest.raises(ValueError, match="valid"):
        MeasureSettings(metric_params={name: {kw: "nonsense", "no_such": 1}})


def test_unknown_metric_in_metric_params_is_one_line():
    with pytest.raises(ValueError, match=r"^metric_params\.nope: not a registered metric; valid: "):
        check_metric_params({"nope": {}})


@pytest.mark.parametrize("name", [n for n in NAMES if METRICS[n].prepare is not None])
def test_seed_copies_equal_the_pairwise_function(name):
    reps = {f"m.{k}": {"h": related_pair(n=60, p=6, q=6, seed=k)[0]} for k in range(3)}
    groups = {"m": list(reps)}
    stacks = {("m", "h"): prepare_stack([reps[m]["h"] for m in groups["m"]])}
    rows = seed_pair_rows(stacks, groups, MeasureSettings(metrics=[name]), reps)
    assert len(rows) == 3
    for r in rows:
        want = float(METRICS[name].fn(reps[r["member_a"]]["h"], reps[r["member_b"]]["h"]))
        assert r["value"] == pytest.approx(want, abs=1e-12)


def test_metric_params_reach_the_measure():
    x, y = related_pair(n=60, p=6, q=5)
    s = MeasureSettings(metrics=["mutual_knn"], metric_params={"mutual_knn": {"k": 3}})
    assert METRICS["mutual_knn"].compute(x, y, s) == pytest.approx(
        float(METRICS["mutual_knn"].fn(x, y, k=3)), abs=0
    )
    assert METRICS["mutual_knn"].kwargs(MeasureSettings()) == {"k": 10}


def test_live_pair_rows_equal_the_functions_on_the_capped_examples():
    from xmsem.snapshots.measure import RepCache, pair_rows

    x, y = related_pair(n=80, p=6, q=5)
    s = MeasureSettings(metrics=NAMES, pairwise_max_n=50, controls=False)
    cache = RepCache(torch.arange(80) % 3, 40, s)
    rows = pair_rows("a", "b", {"h": x}, {"h": y}, [("h", "h")], cache.labels, 40, s, cache=cache)
    got = {r["metric"]: r["value"] for r in rows}
    assert set(got) == set(NAMES)
    for name in NAMES:
        m = 50 if METRICS[name].max_n else 80  # the n x n measures on the first pairwise_max_n
        assert got[name] == pytest.approx(float(METRICS[name].fn(x[:m], y[:m])), abs=1e-12), name


@pytest.mark.parametrize("name", [n for n, s in METRICS.items() if s.inputs == "reps"])
def test_every_registered_measure_on_float64_input_gives_float64_nan_or_value(name):
    """Every registered two-representation measure, valid and degenerate (a constant side),
    returns a 0-d float64 on the inputs' device from float64 input."""
    x, y = related_pair(n=60, p=12, q=11)  # wide enough for subspace_overlap's k=10
    const = torch.ones_like(y)
    fn = METRICS[name].fn
    value = fn(x, y)
    assert value.dtype == torch.float64 and value.ndim == 0 and value.device == x.device
    assert math.isfinite(float(value))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DegenerateInputWarning)
        for a, b in ((x, const), (const, y), (const, const)):
            nan = fn(a, b)
            assert nan.dtype == torch.float64 and nan.ndim == 0 and nan.device == x.device
            assert math.isnan(float(nan)), name


@pytest.mark.parametrize("name", [n for n in NAMES if METRICS[n].prepare is not None])
def test_finish_creates_its_nan_on_the_inputs_device(name):
    """The NaN of ``finish`` for an undefined part lands on that part's device (here "meta",
    which no default would pick), not on the CPU; prepare marks a degenerate input so."""
    spec = METRICS[name]
    params = spec.defaults
    with pytest.warns(DegenerateInputWarning):
        part = spec.prepare(torch.ones(20, 4, dtype=torch.float64), params)
    assert isinstance(part, Undefined) and part.like.device.type == "cpu"
    valid = spec.prepare(related_pair(n=20, p=4, q=4)[0], params)
    on_meta = undefined(torch.empty(20, 4, dtype=torch.float64, device="meta"))
    for a, b in ((on_meta, valid), (valid, on_meta), (on_meta, on_meta)):
        out = spec.finish(a, b, params)
        assert out.device.type == "meta" and out.dtype == torch.float64 and out.ndim == 0
