"""Permutation null of CKA and subspace overlap."""

from __future__ import annotations

import pytest
import torch

from xmsem.alignment import linear_cka, permutation_null, subspace_overlap

from ._data import randn, related_pair


@pytest.mark.parametrize("name", ["linear_cka", "linear_cka_debiased", "subspace_overlap"])
def test_fast_path_equals_the_metric_on_permuted_rows(name):
    x, y = related_pair(n=80, p=8, q=6)
    res = permutation_null(name, x, y, n_perm=20, seed=3, **({"k": 4} if "sub" in name else {}))
    gen = torch.Generator().manual_seed(3)
    for value in res.null:
        perm = torch.randperm(80, generator=gen)
        if name == "subspace_overlap":
            ref = subspace_overlap(x, y[perm], 4).mean_cos2
        else:
            ref = linear_cka(x, y[perm], debiased=name.endswith("debiased"))
        assert float(value) == pytest.approx(float(ref), abs=1e-10)
    ref_obs = subspace_overlap(x, y, 4).mean_cos2 if "sub" in name else None
    if ref_obs is not None:
        assert res.observed == pytest.approx(float(ref_obs), abs=1e-10)


def test_chance_value_of_one_column_cka_is_one_over_n_minus_one():
    """p = q = 1: linear CKA = r^2, and under row permutation E[r^2] = 1/(n-1) exactly."""
    n = 50
    x, y = randn(n, 1, seed=1), randn(n, 1, seed=2) ** 3
    res = permutation_null("linear_cka", x, y, n_perm=1000, seed=0)
    se = res.sd / 1000**0.5
    assert res.chance == pytest.approx(1 / (n - 1), abs=4 * se)
    # debiased CKA is unbiased for the population value 0
    deb = permutation_null("linear_cka_debiased", randn(n, 5, seed=3), randn(n, 4, seed=4),
                           n_perm=1000)  # fmt: skip
    assert abs(deb.chance) < 4 * deb.sd / 1000**0.5


def test_biased_cka_chance_is_large_when_width_is_comparable_to_n():
    x, y = randn(40, 30, seed=5), randn(40, 30, seed=6)
    res = permutation_null("linear_cka", x, y, n_perm=50)
    assert res.chance > 0.4  # 0.44 here: the reason a raw CKA needs this control
    assert res.p_value > 0.05


def test_p_value_and_direction():
    x, y = related_pair(n=100)
    sim = permutation_null("linear_cka", x, y, n_perm=99)
    assert sim.p_value == pytest.approx(0.01) and sim.excess > 0.2
    dist = permutation_null("procrustes", x, y, n_perm=19)  # a distance: lower is aligned
    assert dist.p_value == pytest.approx(0.05) and dist.excess < 0
    cal = permutation_null(lambda a, b: float(linear_cka(a, b)), x, y, n_perm=19)
    assert cal.observed == pytest.approx(sim.observed)
    with pytest.raises(ValueError, match="n_perm"):
        permutation_null("linear_cka", x, y, n_perm=0)
    with pytest.raises(ValueError, match="'reps' metric"):
        permutation_null("stitching", x, y)
