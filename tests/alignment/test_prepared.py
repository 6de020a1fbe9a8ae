"""Prepared representations give exactly the values of linear_cka / subspace_overlap."""

from __future__ import annotations

import pytest
import torch

from xmsem.alignment import (
    linear_cka,
    linear_cka_prepared,
    prepare,
    subspace_overlap,
    subspace_overlap_prepared,
)


def reps(seed: int, n: int = 400, d: int = 24) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(n, 6, generator=g)
    return z @ torch.randn(6, d, generator=g) + 0.5 * torch.randn(n, d, generator=g) + 3.0


@pytest.mark.parametrize(("dx", "dy"), [(24, 24), (24, 9), (300, 500)])
def test_prepared_equals_direct(dx: int, dy: int) -> None:
    x, y = reps(0, d=dx), reps(1, d=dy)
    px, py = prepare(x), prepare(y)
    biased, debiased = linear_cka_prepared(px, py)
    assert float(biased) == pytest.approx(float(linear_cka(x, y)), abs=1e-10)
    assert float(debiased) == pytest.approx(float(linear_cka(x, y, debiased=True)), abs=1e-10)
    k = 5
    assert float(subspace_overlap_prepared(px, py, k)) == pytest.approx(
        float(subspace_overlap(x, y, k).mean_cos2), abs=1e-8
    )
    # a given cross product gives the same answer
    cross = px.xc.T @ py.xc
    again = linear_cka_prepared(px, py, frob2=(cross * cross).sum())
    assert float(again[0]) == pytest.approx(float(biased), abs=1e-14)


def test_prepared_self_is_one_and_degenerate_is_nan() -> None:
    x = reps(2)
    px = prepare(x)
    assert [float(v) for v in linear_cka_prepared(px, prepare(x.clone()))] == pytest.approx([1, 1])
    with pytest.warns(UserWarning):
        value = linear_cka_prepared(px, prepare(torch.ones(400, 3)))
    assert all(v != v for v in (float(value[0]), float(value[1])))
    with pytest.raises(ValueError, match="same number of rows"):
        linear_cka_prepared(px, prepare(reps(3, n=10)))


def test_median_of_distance_matrix_equals_numpy_median() -> None:
    import numpy as np

    from xmsem.alignment.cka import _median_sq_distances, _sq_distances

    for n in (2, 3, 7, 50, 51):
        d2 = _sq_distances(reps(n, n=n, d=5) - 3.0)
        assert float(_median_sq_distances(d2)) == pytest.approx(
            float(np.median(d2.numpy())), rel=1e-15
        )


def test_fast_least_squares_matches_rank_revealing_solver() -> None:
    from xmsem.alignment.maps import _lstsq

    g = torch.Generator().manual_seed(5)
    a = torch.randn(500, 30, generator=g, dtype=torch.float64)
    b = torch.randn(500, 7, generator=g, dtype=torch.float64)
    ref = torch.linalg.lstsq(a, b, driver="gelsd").solution
    assert torch.allclose(_lstsq(a, b), ref, atol=1e-10)
    a[:, 3] = 0.0  # a dead unit: its row of the minimum-norm solution is 0
    ref = torch.linalg.lstsq(a, b, driver="gelsd").solution
    got = _lstsq(a, b)
    assert torch.allclose(got, ref, atol=1e-10) and float(got[3].abs().max()) == 0.0
    a[:, 4] = a[:, 5] * 2.0  # collinear columns: rank-deficient, the slow path
    ref = torch.linalg.lstsq(a, b, driver="gelsd").solution
    assert torch.allclose(_lstsq(a, b), ref, atol=1e-8)


def test_rank_deficient_input_never_takes_the_qr_path(monkeypatch) -> None:
    """Regression (torch 2.11, GPU machine): an exactly rank-deficient ``a`` whose Gram matrix's
    smallest eigenvalue came out as rounding noise *above* the old QR gate (1e-14 * top) was
    solved by QR through a noise pivot. Simulate that BLAS: lift the smallest eigenvalue to
    1e-13 * top. The answer must still be the minimum-norm solution."""
    from xmsem.alignment.maps import _lstsq

    g = torch.Generator().manual_seed(5)
    a = torch.randn(500, 30, generator=g, dtype=torch.float64)
    b = torch.randn(500, 7, generator=g, dtype=torch.float64)
    a[:, 4] = a[:, 5] * 2.0
    real = torch.linalg.eigh

    def noisy_eigh(m):
        evals, evecs = real(m)
        evals = evals.clone()
        evals[0] = evals[-1] * 1e-13
        return evals, evecs

    monkeypatch.setattr(torch.linalg, "eigh", noisy_eigh)
    ref = torch.linalg.lstsq(a, b, driver="gelsd").solution
    assert torch.allclose(_lstsq(a, b), ref, atol=1e-8)


def test_least_squares_qr_path_for_moderately_ill_conditioned_input(monkeypatch) -> None:
    from xmsem.alignment.maps import _lstsq

    g = torch.Generator().manual_seed(6)
    u = torch.linalg.qr(torch.randn(400, 20, generator=g, dtype=torch.float64)).Q
    v = torch.linalg.qr(torch.randn(20, 20, generator=g, dtype=torch.float64)).Q
    a = u @ torch.diag(torch.logspace(0, -5, 20, dtype=torch.float64)) @ v.T  # kappa = 1e5
    b = torch.randn(400, 3, generator=g, dtype=torch.float64)
    ref = torch.linalg.lstsq(a, b, driver="gelsd").solution
    calls = []
    real = torch.linalg.lstsq
    monkeypatch.setattr(torch.linalg, "lstsq", lambda *x, **k: calls.append(1) or real(*x, **k))
    got = _lstsq(a, b)
    assert not calls  # neither the normal equations (kappa > 1e4) nor the slow solver
    assert float((got - ref).abs().max() / ref.abs().max()) < 1e-9


def test_similarity_map_undoes_rotation_scale_and_shift() -> None:
    from xmsem.alignment import fit_map

    a = reps(7, n=300, d=12)
    q, _ = torch.linalg.qr(
        torch.randn(12, 12, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    )
    b = 0.25 * a.double() @ q + 5.0
    t = fit_map(b, a, "similarity")
    assert torch.allclose(t(b), a.double(), atol=1e-9)
    assert not torch.allclose(fit_map(b, a, "orthogonal")(b), a.double(), atol=1e-3)
