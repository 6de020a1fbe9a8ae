"""Wide layers (more features than examples) are prepared on the examples' side (n x n kernels,
Lanczos top-k eigenpairs) and give the values of the direct functions."""

from __future__ import annotations

import time

import pytest
import torch

from xmsem.alignment import (
    cross_frob2,
    linear_cka,
    linear_cka_prepared,
    permutation_null,
    prepare,
    subspace_overlap,
    subspace_overlap_prepared,
)
from xmsem.alignment.batched import linear_cka_stack, prepare_stack, subspace_overlap_stack
from xmsem.alignment.eigen import DENSE_MAX, top_eigenpairs


def reps(seed: int, n: int, d: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(n, 8, generator=g)
    return z @ torch.randn(8, d, generator=g) + 0.3 * torch.randn(n, d, generator=g) + 2.0


@pytest.mark.parametrize(("dx", "dy"), [(300, 500), (300, 12), (12, 700)])
def test_wide_sides_equal_the_direct_functions(dx: int, dy: int) -> None:
    n = 60
    x, y = reps(0, n, dx), reps(1, n, dy)
    px, py = prepare(x), prepare(y)
    for p, d in ((px, dx), (py, dy)):  # exactly one of the two sides is kept
        assert (p.kernel is not None) == (d > n) and (p.gram is None) == (d > n)
    biased, debiased = linear_cka_prepared(px, py)
    assert float(biased) == pytest.approx(float(linear_cka(x, y)), abs=1e-10)
    assert float(debiased) == pytest.approx(float(linear_cka(x, y, debiased=True)), abs=1e-10)
    xc, yc = x.double() - x.double().mean(0), y.double() - y.double().mean(0)
    assert float(cross_frob2(px, py)) == pytest.approx(float((xc.T @ yc).square().sum()), rel=1e-12)
    for k in (1, 5):
        assert float(subspace_overlap_prepared(px, py, k)) == pytest.approx(
            float(subspace_overlap(x, y, k).mean_cos2), abs=1e-8
        )


def test_wide_stack_equals_pairs() -> None:
    n, d = 40, 200
    x = torch.stack([reps(s, n, d) for s in range(3)])
    s = prepare_stack(x)
    assert s.gram is None and s.kernel.shape == (3, n, n)
    biased, debiased = linear_cka_stack(s)
    overlap = subspace_overlap_stack(s, 4)
    for i in range(3):
        for j in range(3):
            assert float(biased[i, j]) == pytest.approx(float(linear_cka(x[i], x[j])), abs=1e-10)
            assert float(debiased[i, j]) == pytest.approx(
                float(linear_cka(x[i], x[j], debiased=True)), abs=1e-10
            )
            assert float(overlap[i, j]) == pytest.approx(
                float(subspace_overlap(x[i], x[j], 4).mean_cos2), abs=1e-8
            )


def test_wide_permutation_null_permutes_the_kernel() -> None:
    x, y = reps(0, 30, 100), reps(1, 30, 120)
    from xmsem.alignment._permutation import permutations

    for metric, fn in (
        ("linear_cka", linear_cka),
        ("subspace_overlap", lambda a, b: subspace_overlap(a, b, 3).mean_cos2),
    ):
        null = permutation_null(
            metric, x, y, n_perm=5, seed=3, **({"k": 3} if "sub" in metric else {})
        )
        direct = [float(fn(x, y[p])) for p in permutations(30, 5, 3, x.device)]
        assert null.null.tolist() == pytest.approx(direct, abs=1e-8)


def test_lanczos_path_equals_eigh() -> None:
    m = DENSE_MAX + 88
    a = reps(2, m, 150).double()
    sym = a @ a.T
    values, vectors = top_eigenpairs(sym, 6)
    evals, evecs = torch.linalg.eigh(sym)
    assert torch.allclose(values, evals.flip(0)[:6], rtol=1e-10)
    cos = (vectors.T @ evecs.flip(1)[:, :6]).abs().diagonal()
    assert torch.allclose(cos, torch.ones(6, dtype=torch.float64), atol=1e-8)
    assert torch.allclose(vectors.T @ vectors, torch.eye(6, dtype=torch.float64), atol=1e-10)


@pytest.mark.slow
def test_a_12544_wide_layer_on_2000_examples_is_prepared_in_seconds() -> None:
    """A 64 x 14 x 14 conv map (12,544 features): linear CKA against a 256-wide layer and both
    top-10 bases. A d x d Gram + eigh took over 16 minutes (issue 20)."""
    n, d = 2000, 12_544
    x, y = reps(0, n, d).float(), reps(1, n, 256).float()
    start = time.perf_counter()
    px, py = prepare(x), prepare(y)
    value = float(linear_cka_prepared(px, py)[0])
    overlap = float(subspace_overlap_prepared(px, py, 10))
    seconds = time.perf_counter() - start
    print(f"12,544-wide vs 256-wide, n=2000: prepare + CKA + subspace in {seconds:.1f}s")
    assert 0.0 <= value <= 1.0 and 0.0 <= overlap <= 1.0
    assert seconds < 60
