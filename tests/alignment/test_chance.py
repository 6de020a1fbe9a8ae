"""Chance values = the exact mean over ALL row permutations (enumerated for small n)."""

from __future__ import annotations

import itertools

import pytest
import torch

from tests.alignment._data import randn
from xmsem.alignment import linear_cka, prepare, subspace_overlap
from xmsem.alignment.chance import linear_cka_chance, subspace_overlap_chance


def _all_perms(n: int):
    return [torch.tensor(p) for p in itertools.permutations(range(n))]


def test_linear_cka_chance_is_the_exact_permutation_mean():
    n = 6
    x = randn(n, 3, seed=1) @ torch.diag(torch.tensor([3.0, 1.0, 0.2], dtype=torch.float64))
    y = randn(n, 4, seed=2)
    values = [float(linear_cka(x, y[p])) for p in _all_perms(n)]
    expected = sum(values) / len(values)
    assert linear_cka_chance(prepare(x), prepare(y)) == pytest.approx(expected, rel=1e-10)


def test_subspace_overlap_chance_is_k_over_n_minus_1():
    n, k = 6, 2
    x, y = randn(n, 4, seed=3), randn(n, 3, seed=4)
    values = [float(subspace_overlap(x, y[p], k=k).mean_cos2) for p in _all_perms(n)]
    assert sum(values) / len(values) == pytest.approx(k / (n - 1), rel=1e-10)
    assert subspace_overlap_chance(n, k) == pytest.approx(0.4)


def test_chance_grows_with_width_over_n_and_is_nan_when_degenerate():
    # isotropic p = q = d: chance ~ d / (n - 1) (tr K ~ n d, ||K||_F ~ n sqrt(d))
    n, d = 2000, 50
    chance = linear_cka_chance(prepare(randn(n, d, seed=5)), prepare(randn(n, d, seed=6)))
    assert chance == pytest.approx(d / (n - 1), rel=0.1)
    const = torch.ones(10, 3, dtype=torch.float64)
    assert linear_cka_chance(prepare(const), prepare(randn(10, 3))) != linear_cka_chance(
        prepare(const), prepare(randn(10, 3))
    )  # NaN
