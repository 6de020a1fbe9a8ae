"""Linear and RBF CKA against closed forms, invariances and degenerate input."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import torch

from xmsem.alignment import DegenerateInputWarning, linear_cka, rbf_cka

from ._data import generic_invertible, randn, random_orthogonal, related_pair

ALL = [
    (linear_cka, False),
    (linear_cka, True),
    (rbf_cka, False),
    (rbf_cka, True),
]
IDS = ["linear", "linear_debiased", "rbf", "rbf_debiased"]


@pytest.mark.parametrize(("fn", "deb"), ALL, ids=IDS)
def test_self_similarity_is_one_and_symmetric(fn, deb, pair):
    x, y = pair
    assert float(fn(x, x, debiased=deb)) == pytest.approx(1.0, abs=1e-12)
    assert float(fn(x, y, debiased=deb)) == pytest.approx(float(fn(y, x, debiased=deb)), abs=1e-13)
    v = float(fn(x, y, debiased=deb))
    assert (-1.0 if deb else 0.0) <= v <= 1.0
    assert 0.2 < v < 0.99  # a genuinely partial similarity, so invariance tests below bite


@pytest.mark.parametrize(("fn", "deb"), ALL, ids=IDS)
def test_invariances_and_noninvariance(fn, deb, pair):
    x, y = pair
    ref = float(fn(x, y, debiased=deb))
    q = random_orthogonal(x.shape[1])
    assert float(fn(x @ q, y, debiased=deb)) == pytest.approx(ref, abs=1e-10)
    assert float(fn(3.7 * x, y, debiased=deb)) == pytest.approx(ref, abs=1e-10)
    assert float(fn(x + 5.0, y - 2.0, debiased=deb)) == pytest.approx(ref, abs=1e-10)
    changed = float(fn(x @ generic_invertible(x.shape[1]), y, debiased=deb))
    assert abs(changed - ref) > 1e-2


def test_one_dimensional_is_pearson_r2():
    x = randn(200, seed=3)
    y = 0.6 * x + randn(200, seed=4)
    r = np.corrcoef(x.numpy(), y.numpy())[0, 1]
    assert float(linear_cka(x[:, None], y[:, None])) == pytest.approx(r**2, abs=1e-12)


def test_orthonormal_bases_give_sum_cos2_over_sqrt_pq():
    from scipy.linalg import subspace_angles

    n, p, q = 100, 5, 3
    a = randn(n, p, seed=5)
    b = a[:, :3] @ randn(3, q, seed=6) + 0.8 * randn(n, q, seed=7)
    qa = torch.linalg.qr(a - a.mean(0)).Q
    qb = torch.linalg.qr(b - b.mean(0)).Q
    theta = subspace_angles(qa.numpy(), qb.numpy())
    expect = float(np.sum(np.cos(theta) ** 2)) / math.sqrt(p * q)
    assert float(linear_cka(qa, qb)) == pytest.approx(expect, abs=1e-12)


@pytest.mark.parametrize("deb", [False, True])
@pytest.mark.parametrize(("n", "p", "q"), [(300, 12, 10), (40, 30, 25)])
def test_feature_and_gram_forms_agree(deb, n, p, q):
    x, y = related_pair(n, p, q)
    f = float(linear_cka(x, y, deb, method="feature"))
    g = float(linear_cka(x, y, deb, method="gram"))
    assert abs(f - g) < 1e-10


def _kornblith_rbf_reference(x: np.ndarray, y: np.ndarray, threshold: float) -> float:
    """Direct transcription of Kornblith et al.'s reference notebook (gram_rbf, center_gram,
    cka) in numpy, used as an independent oracle."""

    def gram_rbf(v):
        dot = v @ v.T
        sq = np.diag(dot)
        d2 = -2 * dot + sq[:, None] + sq[None, :]
        med = np.median(d2)
        return np.exp(-d2 / (2 * threshold**2 * med))

    def center(g):
        g = g.copy()
        means = np.mean(g, 0, dtype=np.float64)
        means -= np.mean(means) / 2
        g -= means[:, None]
        g -= means[None, :]
        return g

    k, l = center(gram_rbf(x)), center(gram_rbf(y))
    return float(np.sum(k * l) / (np.linalg.norm(k) * np.linalg.norm(l)))


@pytest.mark.parametrize("threshold", [0.5, 1.0, 2.0])
def test_rbf_matches_reference_implementation(pair, threshold):
    x, y = pair
    ref = _kornblith_rbf_reference(x.numpy(), y.numpy(), threshold)
    assert float(rbf_cka(x, y, threshold)) == pytest.approx(ref, abs=1e-10)


def test_debiased_hsic_matches_brute_force_u_statistic():
    """HSIC_1 equals the 4-tuple U-statistic of Song et al. (2012, Theorem 2)."""
    import itertools

    from xmsem.alignment import hsic_unbiased

    n = 7
    x, y = randn(n, 3, seed=8), randn(n, 2, seed=9)
    k, l = x @ x.T, y @ y.T
    total = 0.0
    for i, j, q, r in itertools.permutations(range(n), 4):
        total += (k[i, j] * (l[i, j] + l[q, r] - 2 * l[i, q])).item()
    brute = total / math.perm(n, 4)
    assert float(hsic_unbiased(k, l)) == pytest.approx(brute, rel=1e-10)


def test_debiased_near_zero_for_independent_gaussians():
    x, y = randn(400, 200, seed=10), randn(400, 200, seed=11)
    biased = float(linear_cka(x, y))
    debiased = float(linear_cka(x, y, debiased=True))
    assert biased > 0.3  # the well-known high-dimensional bias of HSIC_0
    assert abs(debiased) < 0.02


def test_constant_columns_are_harmless():
    x, y = related_pair()
    x_pad = torch.cat([x, torch.full((x.shape[0], 2), 3.0, dtype=torch.float64)], dim=1)
    assert float(linear_cka(x_pad, y)) == pytest.approx(float(linear_cka(x, y)), abs=1e-12)


@pytest.mark.parametrize(("fn", "deb"), ALL, ids=IDS)
def test_constant_representation_gives_nan_and_warning(fn, deb):
    x = torch.full((50, 4), 0.1, dtype=torch.float64)
    y = randn(50, 3)
    with pytest.warns(DegenerateInputWarning, match="constant"):
        assert math.isnan(float(fn(x, y, debiased=deb)))


@pytest.mark.parametrize(("fn", "deb"), ALL, ids=IDS)
def test_nonfinite_input_gives_nan_and_warning(fn, deb, pair):
    x, y = pair
    x = x.clone()
    x[3, 1] = float("nan")
    with pytest.warns(DegenerateInputWarning, match="NaN or inf"):
        assert math.isnan(float(fn(x, y, debiased=deb)))
    y = y.clone()
    y[0, 0] = float("inf")
    with pytest.warns(DegenerateInputWarning):
        assert math.isnan(float(fn(pair[0], y, debiased=deb)))


@pytest.mark.parametrize(("fn", "deb"), ALL, ids=IDS)
def test_bad_shapes_raise_one_line_value_errors(fn, deb):
    with pytest.raises(ValueError, match="same n"):
        fn(randn(10, 3), randn(11, 3), debiased=deb)
    with pytest.raises(ValueError, match=r"\(n, d\)"):
        fn(randn(2, 3, 4), randn(2, 3), debiased=deb)


@pytest.mark.parametrize("fn", [linear_cka, rbf_cka])
def test_debiased_needs_four_examples(fn):
    with pytest.raises(ValueError, match="n >= 4"):
        fn(randn(3, 2), randn(3, 2, seed=1), debiased=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert 0.0 <= float(fn(randn(3, 2), randn(3, 2, seed=1))) <= 1.0


def test_float32_and_large_offset_inputs_are_exact():
    x, y = related_pair()
    ref = float(linear_cka(x, y))
    assert float(linear_cka(x.float(), y.float())) == pytest.approx(ref, abs=1e-6)
    assert float(linear_cka(x + 1e6, y)) == pytest.approx(ref, abs=1e-8)


def test_values_in_range_over_many_random_inputs():
    for seed in range(20):
        n = 4 + seed
        x, y = randn(n, 1 + seed % 5, seed=seed), randn(n, 1 + seed % 3, seed=seed + 50)
        for deb in (False, True):
            for fn in (linear_cka, rbf_cka):
                v = float(fn(x, y, debiased=deb))
                assert (-1.0 if deb else 0.0) <= v <= 1.0


def test_rbf_bad_threshold_and_bad_method():
    with pytest.raises(ValueError, match="threshold"):
        rbf_cka(randn(10, 2), randn(10, 2), threshold=0.0)
    with pytest.raises(ValueError, match="method"):
        linear_cka(randn(10, 2), randn(10, 2), method="fast")


def test_rbf_cka_from_per_representation_kernels_equals_the_function():
    """The snapshot's prepare/finish route of RBF CKA (each kernel built once) gives exactly
    rbf_cka's value, through the registry as in a snapshot; a constant representation gives a
    NaN on its device (with the warning) instead of a value."""
    from xmsem.alignment import METRICS
    from xmsem.alignment.cka import rbf_centred_kernel, rbf_cka_of_kernels
    from xmsem.snapshots.measure import MeasureSettings

    x, y = randn(120, 9, seed=31), randn(120, 5, seed=32)
    y = torch.cat([y, x[:, :3] ** 2], dim=1)
    for threshold in (0.5, 1.0):
        got = rbf_cka_of_kernels(rbf_centred_kernel(x, threshold), rbf_centred_kernel(y, threshold))
        assert float(got) == float(rbf_cka(x, y, threshold=threshold))
    spec, s = METRICS["rbf_cka"], MeasureSettings(rbf_max_n=100, rbf_threshold=0.7)
    via_parts = spec.compute_finish(spec.prepare_one(x, s), spec.prepare_one(y, s), s)
    assert via_parts == float(rbf_cka(x[:100], y[:100], threshold=0.7))
    with pytest.warns(DegenerateInputWarning):
        flat = rbf_centred_kernel(torch.ones(30, 4, dtype=torch.float64))
    assert torch.isnan(rbf_cka_of_kernels(flat, rbf_centred_kernel(x[:30]))).item()
