"""Regression tests for metric defects found against independent implementations (issue 10).

Each reference here is written from the published formula in numpy (or with torch autograd),
independently of the code under test.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

from xmsem.alignment import (
    DegenerateInputWarning,
    MinibatchCKA,
    StreamingLinearCKA,
    fit_probe,
    hsic_unbiased,
    latent_r2,
    linear_cka,
    linear_cka_prepared,
    prepare,
)
from xmsem.alignment import spectral as spectral_mod

from ._data import randn, related_pair


def _np_cka(x: np.ndarray, y: np.ndarray, debiased: bool) -> float:
    """Kornblith et al. (2019) linear CKA from n x n Gram matrices; Song et al. (2012) eq. 5 for
    the unbiased HSIC -- the textbook formulas, no shortcuts."""
    k, l = x @ x.T, y @ y.T
    n = k.shape[0]

    def hsic(a: np.ndarray, b: np.ndarray) -> float:
        if not debiased:
            h = np.eye(n) - np.ones((n, n)) / n
            return float(np.trace(a @ h @ b @ h))
        a, b = a.copy(), b.copy()
        np.fill_diagonal(a, 0)
        np.fill_diagonal(b, 0)
        one = np.ones(n)
        t = np.trace(a @ b) + (one @ a @ one) * (one @ b @ one) / ((n - 1) * (n - 2))
        t -= 2 / (n - 2) * one @ a @ b @ one
        return float(t / (n * (n - 3)))

    return hsic(k, l) / np.sqrt(hsic(k, k) * hsic(l, l))


@pytest.mark.parametrize("scale", [1e-6, 1e6, 1e9])
@pytest.mark.parametrize("debiased", [False, True])
def test_linear_cka_every_estimator_is_scale_invariant(scale, debiased):
    x, y = related_pair(n=120, p=8, q=6)
    y = y * scale
    ref = _np_cka(x.numpy(), y.numpy(), debiased)
    with warnings.catch_warnings():
        warnings.simplefilter("error", DegenerateInputWarning)  # no NaN-with-warning
        got = {
            "feature": linear_cka(x, y, debiased, method="feature"),
            "gram": linear_cka(x, y, debiased, method="gram"),
            "prepared": linear_cka_prepared(prepare(x), prepare(y))[int(debiased)],
        }
        if debiased:
            mb = MinibatchCKA()
            mb.update(x, y)  # one batch: minibatch CKA = debiased CKA
            got["minibatch"] = mb.compute()
        st = StreamingLinearCKA(debiased=debiased)
        for i in range(0, 120, 50):
            st.update(x[i : i + 50], y[i : i + 50])
        got["streaming"] = st.compute()
    for name, value in got.items():
        assert float(value) == pytest.approx(ref, rel=1e-9, abs=1e-12), name


@pytest.mark.parametrize("debiased", [False, True])
def test_streaming_nonfinite_first_batch_gives_nan_not_keyerror(debiased):
    x, y = related_pair(n=60)
    bad = x[:10].clone()
    bad[0, 0] = float("inf")
    st = StreamingLinearCKA(debiased=debiased)
    st.update(bad, y[:10])
    st.update(x[10:], y[10:])  # used to raise KeyError('shift_x')
    with pytest.warns(DegenerateInputWarning):
        out = st.compute()
    assert torch.isnan(out) and out.dtype == torch.float64
    with pytest.raises(ValueError, match="widths must stay fixed"):
        st.update(x[:5, :3], y[:5])


def _mean_loss_grad(probe, x, y, l2):
    """max |gradient| of the documented probe loss, by autograd (independent of the closed form
    in probe.py)."""
    z = (x - probe.mean) / probe.scale
    w = probe.weight.clone().requires_grad_()
    b = probe.bias.clone().requires_grad_()
    loss = torch.nn.functional.cross_entropy(z @ w + b, y) + 0.5 * l2 * (w * w).sum()
    loss.backward()
    return max(float(w.grad.abs().max()), float(b.grad.abs().max()))


def test_fit_probe_reaches_its_gradient_tolerance():
    """An ill-scaled problem on which a hard-coded tolerance_change stopped L-BFGS at
    max|grad| = 5.6e-7 > tol = 1e-7."""
    g = torch.Generator().manual_seed(0)
    for _ in range(2):  # the second draw of this generator is the failing case
        n, d, c = (500, 20, 5) if _ == 0 else (2000, 50, 10)
        x = torch.randn(n, d, generator=g, dtype=torch.float64)
        x = x * torch.logspace(-2, 2, d, dtype=torch.float64)
        w = torch.randn(3, c, generator=g, dtype=torch.float64)
        y = (x[:, :3] @ w + 0.5 * torch.randn(n, c, generator=g, dtype=torch.float64)).argmax(1)
    for tol in (1e-7, 1e-5):
        probe = fit_probe(x, y, l2=1e-3, tol=tol, max_iter=1000)
        assert _mean_loss_grad(probe, x, y, 1e-3) <= tol


def _np_r2(xf, zf, xe, ze):
    """Per-latent held-out R^2 of an ordinary least-squares readout (numpy lstsq)."""
    a = np.column_stack([xf, np.ones(len(xf))])
    coef = np.linalg.lstsq(a, zf, rcond=None)[0]
    pred = np.column_stack([xe, np.ones(len(xe))]) @ coef
    return 1 - ((ze - pred) ** 2).sum(0) / ((ze - ze.mean(0)) ** 2).sum(0)


def test_latent_r2_constant_latent_is_left_out_not_minus_1e301():
    x = randn(200, 6, seed=3)
    z = torch.stack([x[:, 0] + 0.3 * randn(200, seed=4), x[:, 1] - x[:, 2]], dim=1)
    z = torch.cat([z, torch.full((200, 1), 2.5, dtype=torch.float64)], dim=1)  # constant latent
    ref = _np_r2(x[:120].numpy(), z[:120, :2].numpy(), x[120:].numpy(), z[120:, :2].numpy())
    with pytest.warns(DegenerateInputWarning, match="constant"):
        got = latent_r2(x[:120], z[:120], x[120:], z[120:])
    assert float(got) == pytest.approx(float(ref.mean()), abs=1e-6)
    with pytest.warns(DegenerateInputWarning):
        assert torch.isnan(latent_r2(x[:120], z[:120, 2:], x[120:], z[120:, 2:]))


def test_latent_r2_accepts_one_dimensional_x_and_z():
    x = randn(150, seed=5)
    z = 2.0 * x + 0.5 * randn(150, seed=6)
    ref = _np_r2(x[:100, None].numpy(), z[:100, None].numpy(), x[100:, None].numpy(),
                 z[100:, None].numpy())  # fmt: skip
    assert float(latent_r2(x[:100], z[:100], x[100:], z[100:])) == pytest.approx(ref[0], abs=1e-6)


def test_hsic_unbiased_needs_four_examples():
    k = torch.ones(3, 3, dtype=torch.float64)
    with pytest.raises(ValueError, match="n >= 4"):
        hsic_unbiased(k, k)
    with pytest.raises(ValueError, match="same shape"):
        hsic_unbiased(torch.ones(4, 4), torch.ones(5, 5))


def test_knn_neighbours_unchanged_by_a_large_offset():
    z = randn(300, 5, seed=7)
    d = np.linalg.norm(z.numpy()[:, None, :] - z.numpy()[None, :, :], axis=2)  # exact, direct
    np.fill_diagonal(d, np.inf)
    ref = np.sort(np.argsort(d, axis=1, kind="stable")[:, :6], axis=1)
    got = spectral_mod._knn_indices(z + 1e7, 6)
    assert np.array_equal(np.sort(got.numpy(), axis=1), ref)
    ev0, _ = spectral_mod.knn_graph_laplacian_eigs(z, 6, 10)
    ev1, _ = spectral_mod.knn_graph_laplacian_eigs(z + 1e7, 6, 10)
    assert torch.allclose(ev0, ev1, atol=1e-10)
