"""Every metric follows its inputs' device, returns float64, takes numpy; ``pairwise``."""

from __future__ import annotations

import ast
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

import xmsem.alignment as al
from xmsem.alignment import METRICS, pairwise

from ._data import related_pair

ALIGNMENT = Path(al.__file__).parent
FACTORIES = {"eye", "arange", "zeros", "ones", "full", "empty", "tensor", "randn", "rand",
             "randint", "linspace", "logspace", "as_tensor"}  # fmt: skip


def test_no_tensor_factory_without_device():
    """Every ``torch.<factory>(...)`` in xmsem/alignment and its subpackages (the measures)
    names its device (``device=`` or a ``**`` dict that carries one), so results never fall
    back to the CPU."""
    missing = []
    paths = sorted(ALIGNMENT.rglob("*.py"))
    assert any(p.parent.name == "measures" for p in paths)  # the subpackage is searched
    for path in paths:
        for node in ast.walk(ast.parse(path.read_text())):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
                continue
            f = node.func
            if not (isinstance(f.value, ast.Name) and f.value.id == "torch"):
                continue
            if f.attr in FACTORIES and not any(k.arg in ("device", None) for k in node.keywords):
                missing.append(f"{path.relative_to(ALIGNMENT)}:{node.lineno} torch.{f.attr}")
    assert not missing, missing


def _reps_metrics():
    return [name for name, spec in METRICS.items() if spec.inputs == "reps"]


def _call(name, x, y):
    kw = {"k": 4} if name == "subspace_overlap" else {}
    return METRICS[name].fn(x, y, **kw)


def _all_results(x, y, inputs):
    """One value of every metric (and estimator class) on (x, y)."""
    out = {name: _call(name, x, y) for name in _reps_metrics()}
    st = al.StreamingLinearCKA(debiased=True)
    st.update(x, y)
    out["streaming"] = st.compute()
    mb = al.MinibatchCKA()
    mb.update(x, y)
    out["minibatch"] = mb.compute()
    pa, pb = al.prepare(x), al.prepare(y)
    out["prepared_cka"], out["prepared_cka_debiased"] = al.linear_cka_prepared(pa, pb)
    out["prepared_subspace"] = al.subspace_overlap_prepared(pa, pb, 4)
    out["latent_r2"] = al.latent_r2(x[:60], y[:60], x[60:], y[60:])
    labels = (y[:, 0] > y[:, 0].median()).long()
    res = al.probe_transfer(x[:60], labels[:60], x[60:], labels[60:], y[:60], y[60:])
    out["transfer_acc"] = torch.tensor(res.transfer_acc, dtype=torch.float64, device=x.device)
    for row in al.spectral_alignment(inputs, x, y, n_bands=2, k_neighbors=5, n_eigs=8):
        out[f"spectral_{row['basis']}_{row['band']}"] = torch.tensor(
            row["value"], dtype=torch.float64, device=x.device
        )
    return out


def test_float32_inputs_give_float64_results_equal_to_float64_inputs():
    x, y = related_pair(n=100, p=8, q=6)
    inputs = x[:, :3] + 0.1 * y[:, :3]
    ref = _all_results(x, y, inputs)
    got = _all_results(x.float(), y.float(), inputs.float())
    assert ref.keys() == got.keys()
    for name in ref:
        assert got[name].dtype == torch.float64, name
        assert got[name].device == x.device, name
        assert float(got[name]) == pytest.approx(float(ref[name]), rel=1e-5, abs=1e-5), name


def test_nan_results_are_float64_on_the_input_device():
    x, y = related_pair(n=40, p=8, q=6)
    const = torch.ones_like(y, dtype=torch.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name in _reps_metrics():
            v = _call(name, x.float(), const)
            assert torch.isnan(v) and v.dtype == torch.float64 and v.device == x.device, name


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_matches_cpu_for_every_metric():
    x, y = related_pair(n=100, p=8, q=6)
    inputs = x[:, :3] + 0.1 * y[:, :3]
    cpu = _all_results(x, y, inputs)
    gpu = _all_results(x.cuda(), y.cuda(), inputs.cuda())
    for name in cpu:
        assert gpu[name].device.type == "cuda", name
        assert float(gpu[name]) == pytest.approx(float(cpu[name]), abs=1e-6), name
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        nan = al.linear_cka(x.cuda(), torch.ones_like(y).cuda())
        st = al.StreamingLinearCKA()
        st.update(torch.full_like(x, float("nan")).cuda(), y.cuda())
        st.update(x.cuda(), y.cuda())
        for v in (nan, st.compute()):
            assert torch.isnan(v) and v.device.type == "cuda"


def test_numpy_inputs_give_python_floats():
    x, y = related_pair(n=80, p=8, q=6)
    xn, yn = x.numpy().copy(), y.numpy().copy()
    for name in _reps_metrics():
        got = _call(name, xn, yn)
        assert np.array_equal(xn, x.numpy()) and np.array_equal(yn, y.numpy()), name  # untouched
        assert type(got) is float, name
        assert got == pytest.approx(float(_call(name, x, y)), rel=1e-12), name
    assert type(al.latent_r2(xn[:50], yn[:50], xn[50:], yn[50:])) is float
    labels = (yn[:, 0] > np.median(yn[:, 0])).astype(np.int64)
    res = al.probe_transfer(xn[:50], labels[:50], xn[50:], labels[50:], yn[:50], yn[50:])
    assert type(res.ratio) is float


def test_pairwise_matrix_matches_each_metric_call():
    x, y = related_pair(n=90, p=8, q=6)
    z = torch.tanh(x[:, :5])
    reps = {"a": x, "b": y, "c": z}
    for name in ("linear_cka", "linear_cka_debiased", "cca_r2"):
        m = pairwise(name, reps)
        assert m.shape == (3, 3) and m.dtype == torch.float64
        keys = list(reps)
        for i, ki in enumerate(keys):
            for j, kj in enumerate(keys):
                assert float(m[i, j]) == pytest.approx(float(_call(name, reps[ki], reps[kj])),
                                                       abs=1e-10), (name, ki, kj)  # fmt: skip
    m = pairwise("subspace_overlap", [x, y, z], k=3)
    assert float(m[0, 1]) == pytest.approx(float(METRICS["subspace_overlap"].fn(x, y, k=3)))
    mn = pairwise(lambda a, b: float(al.linear_cka(a, b)), [x.numpy(), y.numpy()])
    assert isinstance(mn, np.ndarray) and mn.shape == (2, 2)
    assert mn[0, 0] == pytest.approx(1.0) and mn[0, 1] == pytest.approx(float(al.linear_cka(x, y)))
    with pytest.raises(ValueError, match="'reps' metric"):
        pairwise("probe_transfer", [x, y])
