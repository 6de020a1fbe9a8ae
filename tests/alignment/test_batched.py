"""The batched all-pairs path (seed ensembles) equals the pairwise reference functions."""

from __future__ import annotations

import math
import warnings

import pytest
import torch

from xmsem.alignment import (
    DegenerateInputWarning,
    linear_cka,
    linear_cka_prepared,
    prepare,
    subspace_overlap,
)
from xmsem.alignment.batched import linear_cka_stack, prepare_stack, subspace_overlap_stack


def stack(k: int, n: int = 120, d: int = 10, seed: int = 0) -> torch.Tensor:
    """K partially aligned representations: a shared rank-4 signal, a random map each, noise."""
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(n, 4, generator=g, dtype=torch.float64)
    return torch.stack([
        z @ torch.randn(4, d, generator=g, dtype=torch.float64)
        + 0.7 * torch.randn(n, d, generator=g, dtype=torch.float64) + 2.0
        for _ in range(k)
    ])  # fmt: skip


@pytest.mark.parametrize(("k", "n", "d"), [(5, 120, 10), (3, 9, 30), (1, 50, 4)])
def test_stack_equals_pairwise_functions(k, n, d):
    x = stack(k, n, d)
    s = prepare_stack(x)
    biased, debiased = linear_cka_stack(s)
    overlap = subspace_overlap_stack(s, 3)
    assert biased.shape == debiased.shape == overlap.shape == (k, k)
    for i in range(k):
        for j in range(k):
            assert float(biased[i, j]) == pytest.approx(float(linear_cka(x[i], x[j])), abs=1e-10)
            ref = float(linear_cka(x[i], x[j], debiased=True))
            assert float(debiased[i, j]) == pytest.approx(ref, abs=1e-10)
            ref = float(subspace_overlap(x[i], x[j], 3).mean_cos2)
            assert float(overlap[i, j]) == pytest.approx(ref, abs=1e-10)
    assert torch.allclose(biased.diagonal(), torch.ones(k, dtype=torch.float64), atol=1e-12)


def test_prepared_views_equal_prepare():
    x = stack(4)
    s = prepare_stack(x)
    for i in range(4):
        view, ref = s.prepared(i), prepare(x[i])
        assert torch.allclose(view.xc, ref.xc, atol=1e-12, rtol=0)
        assert float(view.hsic) == pytest.approx(float(ref.hsic), rel=1e-12)
        assert float(view.hsic_debiased()) == pytest.approx(float(ref.hsic_debiased()), rel=1e-10)
        other = prepare(x[(i + 1) % 4])
        got = linear_cka_prepared(view, other)
        want = linear_cka_prepared(ref, other)
        assert float(got[1]) == pytest.approx(float(want[1]), abs=1e-12)
    assert torch.equal(x, stack(4))  # the input is not modified
    listed = prepare_stack(list(x.float()))  # K tensors (n, d), any dtype -> float64
    assert listed.xc.dtype == torch.float64
    assert torch.allclose(listed.gram, prepare_stack(x.float()).gram, rtol=1e-12)


def test_invariance_copies_rotated_and_shifted_give_one():
    base = stack(1)[0]
    g = torch.Generator().manual_seed(3)
    q, _ = torch.linalg.qr(torch.randn(10, 10, generator=g, dtype=torch.float64))
    s = prepare_stack(torch.stack([base, 3.0 * base @ q + 5.0, base - 1.0]))
    biased, debiased = linear_cka_stack(s)
    ones = torch.ones(3, 3, dtype=torch.float64)
    assert torch.allclose(biased, ones, atol=1e-12) and torch.allclose(debiased, ones, atol=1e-12)
    assert torch.allclose(subspace_overlap_stack(s, 3), ones, atol=1e-10)


def test_copies_a_million_times_apart_in_scale_still_compare():
    x = stack(3)
    x[1] *= 1e6
    x[2] *= 1e-6
    biased, debiased = linear_cka_stack(prepare_stack(x))
    for i in range(3):
        for j in range(3):
            ref = float(linear_cka(x[i], x[j]))
            assert math.isfinite(ref) and float(biased[i, j]) == pytest.approx(ref, abs=1e-10)


def test_degenerate_copy_is_nan_in_its_row_and_column_only():
    x = stack(3)
    x[1] = 4.0  # constant representation
    x[2, 0, 0] = float("nan")
    s = prepare_stack(x)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        biased, debiased = linear_cka_stack(s)
        overlap = subspace_overlap_stack(s, 3)
    assert any(issubclass(w.category, DegenerateInputWarning) for w in caught)
    for m in (biased, debiased, overlap):
        assert math.isfinite(float(m[0, 0]))
        assert all(math.isnan(float(m[i, j])) for i in range(3) for j in range(3) if max(i, j) > 0)


def test_low_rank_copy_gives_nan_overlap():
    x = stack(2, d=6)
    x[1] = x[1][:, :1].repeat(1, 6) * torch.arange(1.0, 7.0, dtype=torch.float64)  # rank 1
    with pytest.warns(DegenerateInputWarning):
        overlap = subspace_overlap_stack(prepare_stack(x), 3)
    assert math.isfinite(float(overlap[0, 0])) and math.isnan(float(overlap[0, 1]))


def test_bad_shape_is_one_line():
    with pytest.raises(ValueError, match=r"shape \(K, n, d\)"):
        prepare_stack(torch.zeros(5, 3))
    with pytest.raises(ValueError, match="one shape"):
        prepare_stack([torch.zeros(5, 3), torch.zeros(5, 4)])
