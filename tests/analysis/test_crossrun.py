"""Fast cross-run path: identical to xmsem.alignment, invariances, pair planning."""

from __future__ import annotations

import pytest
import torch

from xmsem.alignment import linear_cka, prepare, subspace_overlap
from xmsem.analysis.crossrun import FAST_METRICS, pair_values, shifted_pairs


def _reps(seed: int, n: int = 300, d: int = 20) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    latent = torch.randn(n, 5, generator=g)
    return (latent @ torch.randn(5, d, generator=g) + 0.3 * torch.randn(n, d, generator=g)).half()


@pytest.mark.parametrize("seeds", [(0, 1), (2, 3)])
def test_fast_path_matches_alignment_functions(seeds):
    x, y = _reps(seeds[0]), _reps(seeds[1], d=12)
    got = pair_values(prepare(x), prepare(y), FAST_METRICS, 4)
    assert got["linear_cka"] == pytest.approx(float(linear_cka(x, y)), abs=1e-10)
    assert got["linear_cka_debiased"] == pytest.approx(
        float(linear_cka(x, y, debiased=True)), abs=1e-10
    )
    assert got["subspace_overlap"] == pytest.approx(
        float(subspace_overlap(x, y, 4).mean_cos2), abs=1e-8
    )
    assert 0.0 < got["linear_cka"] < 1.0


def test_copy_and_rotated_copy_give_one():
    x = _reps(0).double()
    q, _ = torch.linalg.qr(
        torch.randn(20, 20, generator=torch.Generator().manual_seed(9), dtype=torch.float64)
    )
    sx = prepare(x)
    for y in (x.clone(), x @ q + 3.0):
        got = pair_values(sx, prepare(y), FAST_METRICS, 5)
        for metric in FAST_METRICS:
            assert got[metric] == pytest.approx(1.0, abs=1e-9), metric


def test_constant_representation_is_nan():
    x = _reps(0)
    got = pair_values(prepare(x), prepare(torch.ones(300, 20)), FAST_METRICS, 4)
    assert all(v != v for v in got.values())


class _I:
    def __init__(self, seed, copy=None):
        self.seed = seed
        self.unit = (seed, copy or 0)


def test_shifted_pairs_pair_seed_i_with_next_seed():
    a = [_I(s) for s in (0, 1, 2)]
    b = [_I(s) for s in (2, 0, 1)]
    pairs = [(x.seed, y.seed) for x, y in shifted_pairs(a, b)]
    assert pairs == [(0, 1), (1, 2), (2, 0)]
    assert shifted_pairs(a[:1], b[:1]) == []
    # copies of one job are seed units like seeds: copy k of A with copy k+1 of B
    a = [_I(5, k) for k in range(3)]
    b = [_I(5, k) for k in (2, 1, 0)]
    assert [(x.unit, y.unit) for x, y in shifted_pairs(a, b)] == [
        ((5, 0), (5, 1)),
        ((5, 1), (5, 2)),
        ((5, 2), (5, 0)),
    ]
