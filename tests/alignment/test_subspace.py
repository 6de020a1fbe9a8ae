"""Principal angles, CCA and Procrustes distance against scipy and closed forms."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.linalg import orthogonal_procrustes, subspace_angles

from xmsem.alignment import (
    DegenerateInputWarning,
    cca_r2,
    procrustes_distance,
    subspace_overlap,
)

from ._data import randn, random_orthogonal, related_pair


@pytest.mark.parametrize("k", [1, 3, 8])
def test_angles_match_scipy(k):
    x, y = related_pair(n=150, p=12, q=10)
    res = subspace_overlap(x, y, k)
    ux = torch.linalg.svd(x - x.mean(0), full_matrices=False).U[:, :k]
    uy = torch.linalg.svd(y - y.mean(0), full_matrices=False).U[:, :k]
    ref = np.sort(subspace_angles(ux.numpy(), uy.numpy()))
    assert res.angles.shape == (k,)
    assert np.allclose(res.angles.numpy(), ref, atol=1e-12)
    assert float(res.mean_cos2) == pytest.approx(float(np.mean(np.cos(ref) ** 2)), abs=1e-12)
    assert bool((res.angles[1:] >= res.angles[:-1]).all())


def test_small_angles_are_accurate():
    x = randn(100, 4, seed=1)
    y = x + 1e-9 * randn(100, 4, seed=2)
    res = subspace_overlap(x, y, 4)
    assert float(res.angles.max()) < 1e-7
    assert float(res.angles.max()) > 0  # resolved, not rounded to 0 as arccos would
    assert float(res.mean_cos2) == pytest.approx(1.0, abs=1e-12)


def test_rotated_copy_overlaps_fully_and_bad_k():
    x, _ = related_pair()
    res = subspace_overlap(x, 2.0 * x @ random_orthogonal(12) + 1.0, 5)
    assert float(res.mean_cos2) == pytest.approx(1.0, abs=1e-12)
    with pytest.raises(ValueError, match=r"k must be an int in \[1, min"):
        subspace_overlap(x, x, 13)
    with pytest.raises(ValueError, match="k must"):
        subspace_overlap(x, x, 0)


def test_rank_deficient_and_nan_inputs():
    x = randn(50, 2, seed=3) @ randn(2, 6, seed=4)  # rank 2
    with pytest.warns(DegenerateInputWarning, match="rank 2 < k=3"):
        res = subspace_overlap(x, randn(50, 6, seed=5), 3)
    assert math.isnan(float(res.mean_cos2)) and bool(res.angles.isnan().all())
    x = randn(50, 6)
    x[0, 0] = float("nan")
    with pytest.warns(DegenerateInputWarning):
        assert math.isnan(float(subspace_overlap(x, randn(50, 6), 2).mean_cos2))


def test_cca_r2_is_mean_squared_canonical_correlation():
    x, y = related_pair(n=300, p=5, q=4)
    xc, yc = x - x.mean(0), y - y.mean(0)

    # canonical correlations via whitening: svd of Sxx^-1/2 Sxy Syy^-1/2
    def inv_sqrt(s):
        e, v = torch.linalg.eigh(s)
        return v @ torch.diag(e.rsqrt()) @ v.T

    rho = torch.linalg.svdvals(inv_sqrt(xc.T @ xc) @ (xc.T @ yc) @ inv_sqrt(yc.T @ yc))
    assert float(cca_r2(x, y)) == pytest.approx(float((rho**2).mean()), abs=1e-12)


def test_procrustes_distance_matches_scipy():
    x, y = related_pair(n=200, p=6, q=6)
    xc, yc = x - x.mean(0), y - y.mean(0)
    xc, yc = xc / xc.norm(), yc / yc.norm()
    r, _ = orthogonal_procrustes(xc.numpy(), yc.numpy())
    ref = float(np.linalg.norm(xc.numpy() @ r - yc.numpy()) ** 2)
    assert float(procrustes_distance(x, y)) == pytest.approx(ref, abs=1e-12)
    assert float(procrustes_distance(x, 3 * x @ random_orthogonal(6) - 1)) == pytest.approx(
        0.0, abs=1e-12
    )
