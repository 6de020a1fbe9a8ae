"""Streaming exact CKA and minibatch (Nguyen et al. 2021) CKA."""

from __future__ import annotations

import math

import pytest
import torch

from xmsem.alignment import DegenerateInputWarning, MinibatchCKA, StreamingLinearCKA, linear_cka

from ._data import randn, related_pair


@pytest.mark.parametrize("debiased", [False, True])
@pytest.mark.parametrize("batch", [1, 7, 64, 1000])
def test_streaming_equals_full_batch(debiased, batch):
    x, y = related_pair(n=500, p=12, q=10)
    x = x + 100.0  # a large offset: the accumulation must stay exact
    full = float(linear_cka(x, y, debiased=debiased))
    s = StreamingLinearCKA(debiased=debiased)
    for i in range(0, x.shape[0], batch):
        s.update(x[i : i + batch], y[i : i + batch])
    assert s.n == 500
    assert abs(float(s.compute()) - full) < 1e-10


def test_streaming_float32_batches_and_reset():
    x, y = related_pair(n=300)
    s = StreamingLinearCKA()
    for i in range(0, 300, 50):
        s.update(x[i : i + 50].float(), y[i : i + 50].float())
    assert abs(float(s.compute()) - float(linear_cka(x.float(), y.float()))) < 1e-10
    s.reset()
    with pytest.raises(ValueError, match="n >= 2"):
        s.compute()


def test_streaming_degenerate_cases():
    s = StreamingLinearCKA()
    s.update(randn(10, 3), randn(10, 2))
    with pytest.raises(ValueError, match="widths"):
        s.update(randn(10, 4), randn(10, 2))
    with pytest.raises(ValueError, match="same n"):
        s.update(randn(10, 3), randn(9, 2))
    bad = randn(5, 3)
    bad[0, 0] = float("nan")
    s.update(bad, randn(5, 2))
    with pytest.warns(DegenerateInputWarning):
        assert math.isnan(float(s.compute()))
    c = StreamingLinearCKA()
    for _ in range(3):
        c.update(torch.full((8, 3), 2.5, dtype=torch.float64), randn(8, 2))
    with pytest.warns(DegenerateInputWarning, match="constant"):
        assert math.isnan(float(c.compute()))


def _wide_pair(n: int, seed: int = 0):
    """Wide representations (p = q = 128) sharing an 8-dim signal: at batch size 256 the biased
    per-batch CKA is strongly inflated by the p/n bias."""
    z = randn(n, 8, seed=seed)
    x = z @ randn(8, 128, seed=seed + 1) + 6.0 * randn(n, 128, seed=seed + 2)
    y = z @ randn(8, 128, seed=seed + 3) + 6.0 * randn(n, 128, seed=seed + 4)
    return x, y


def test_minibatch_cka_is_unbiased_where_mean_of_batches_is_not():
    x, y = _wide_pair(4096)
    full = float(linear_cka(x, y, debiased=True))
    mb = MinibatchCKA()
    per_batch = []
    for i in range(0, 4096, 256):
        mb.update(x[i : i + 256], y[i : i + 256])
        per_batch.append(float(linear_cka(x[i : i + 256], y[i : i + 256])))
    assert mb.n_batches == 16
    assert abs(float(mb.compute()) - full) < 0.01
    assert sum(per_batch) / len(per_batch) - full > 0.1


def test_minibatch_single_batch_equals_debiased_cka():
    x, y = related_pair(n=120)
    for kernel in ("linear", "rbf"):
        mb = MinibatchCKA(kernel=kernel)
        mb.update(x, y)
        from xmsem.alignment import rbf_cka

        ref = linear_cka(x, y, debiased=True) if kernel == "linear" else rbf_cka(x, y, 1.0, True)
        assert abs(float(mb.compute()) - float(ref)) < 1e-12


def test_minibatch_invariances():
    x, y = related_pair(n=400)
    q = torch.linalg.qr(randn(12, 12, seed=3)).Q

    def run(a, b):
        mb = MinibatchCKA()
        for i in range(0, 400, 100):
            mb.update(a[i : i + 100], b[i : i + 100])
        return float(mb.compute())

    ref = run(x, y)
    assert run(2.0 * x @ q + 7.0, y) == pytest.approx(ref, abs=1e-10)


def test_minibatch_degenerate_cases():
    with pytest.raises(ValueError, match="kernel"):
        MinibatchCKA(kernel="poly")
    mb = MinibatchCKA()
    with pytest.raises(ValueError, match="n >= 4"):
        mb.update(randn(3, 2), randn(3, 2))
    with pytest.raises(ValueError, match="before any update"):
        mb.compute()
    mb.update(torch.ones(10, 3, dtype=torch.float64), randn(10, 2))
    with pytest.warns(DegenerateInputWarning, match="constant"):
        assert math.isnan(float(mb.compute()))
    mb = MinibatchCKA()
    bad = randn(10, 2)
    bad[1, 1] = float("inf")
    with pytest.warns(DegenerateInputWarning):
        mb.update(bad, randn(10, 2))
    mb.update(randn(10, 2), randn(10, 2, seed=5))
    with pytest.warns(DegenerateInputWarning):
        assert math.isnan(float(mb.compute()))
