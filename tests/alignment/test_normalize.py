"""Representation normalisation (one definition for probes, maps and stitches)."""

from __future__ import annotations

import pytest
import torch

from xmsem import alignment as al
from xmsem.alignment.normalize import NORMALIZATIONS, fit_normalizer

from ._data import randn, random_orthogonal


def test_closed_forms_on_the_fit_split_applied_to_new_rows():
    x = randn(200, 5, seed=1) * torch.tensor([1.0, 2.0, 3.0, 0.5, 0.0]) + 4.0
    fit, other = x[:120], x[120:]
    z = fit_normalizer(fit, "standardize")(fit)
    assert torch.allclose(z.mean(0), torch.zeros(5, dtype=torch.float64), atol=1e-12)
    assert torch.allclose(z[:, :4].std(0, unbiased=False), torch.ones(4, dtype=torch.float64))
    assert torch.all(z[:, 4] == 0)  # a constant column: sd taken as 1, not a division by 0
    u = fit_normalizer(fit, "unit_norm")(fit)  # centred, mean squared example norm 1
    assert torch.allclose(u.mean(0), torch.zeros(5, dtype=torch.float64), atol=1e-12)
    assert float(u.square().sum(1).mean()) == pytest.approx(1.0)
    c = fit_normalizer(fit, "center")
    assert torch.allclose(c(other), other - fit.mean(0))  # fit statistics, not the new rows'
    assert torch.equal(fit_normalizer(fit, "none")(other), other)
    for kind in NORMALIZATIONS:
        n = fit_normalizer(fit, kind)
        assert torch.allclose(n.inverse(n(other)), other)
    with pytest.raises(ValueError, match="normalize must be one of"):
        fit_normalizer(fit, "zscore")


@pytest.mark.parametrize("kind", ["orthogonal", "linear", "similarity"])
@pytest.mark.parametrize("norm", ["center", "unit_norm", "standardize"])
def test_map_is_fitted_between_normalised_reps_and_returned_in_raw_coordinates(kind, norm):
    a, b = randn(150, 6, seed=2) * 3 + 1, randn(150, 4, seed=3) * 0.2 - 5
    na, nb = fit_normalizer(a, norm), fit_normalizer(b, norm)
    inner = al.fit_map(nb(b), na(a), kind)
    t = al.fit_map(b, a, kind, normalize=norm)
    assert torch.allclose(t(b), na.inverse(inner(nb(b))), atol=1e-10)
    fwd, back = al.fit_map_both(b, a, kind, normalize=norm)
    assert torch.allclose(fwd(b), t(b), atol=1e-10)
    assert torch.allclose(back(a), al.fit_map(a, b, kind, normalize=norm)(a), atol=1e-10)


def _units_rescaled(seed: int, d: int = 32):
    """A: class-structured ReLU units. B: the same units permuted (an orthogonal map) and each
    rescaled, 2.7x larger on average with a 25x spread -- two networks that code the same thing
    in units of different scales (the MLP-vs-PGNN situation on Fashion-MNIST)."""
    n = 1200
    y = torch.randint(0, 5, (n,), generator=torch.Generator().manual_seed(seed))
    a = torch.relu(randn(5, d, seed=seed + 10)[y] + randn(n, d, seed=seed + 20))
    perm = torch.randperm(d, generator=torch.Generator().manual_seed(seed + 5))
    scale = 2.7 * torch.logspace(-0.7, 0.7, d, dtype=torch.float64)
    b = a[:, perm] * scale + 1.0 + 0.1 * randn(n, d, seed=seed + 40)
    return a, b, y


@pytest.mark.parametrize("seed", [0, 2])
def test_orthogonal_transfer_tracks_least_squares_after_normalisation(seed):
    """Must show (issue 10): through the orthogonal map the transfer ratio is >= 0.9 wherever the
    least-squares map gives >= 0.95. The old pipeline -- Procrustes on centred raw features, probe
    on standardised ones -- fails it on this case."""
    a, b, y = _units_rescaled(seed)
    f, e = slice(0, 600), slice(600, None)
    args = (a[f], y[f], a[e], y[e], b[f], b[e])
    for norm in ("standardize",):  # the default of callbacks.representations.normalize
        lin = al.probe_transfer(*args, map="linear", normalize=norm, l2=1e-2)
        orth = al.probe_transfer(*args, map="orthogonal", normalize=norm, l2=1e-2)
        assert lin.ratio >= 0.95 and orth.ratio >= 0.9 and orth.ratio >= lin.ratio - 0.02
    probe = al.fit_probe(a[f], y[f], l2=1e-2)  # standardised
    old_map = al.fit_map(b[f], a[f], "orthogonal", normalize="center")
    old = al.probe_transfer(*args, probe=probe, transfer=old_map)
    assert old.ratio < 0.9


def test_probe_transfer_through_orthogonal_map_is_exact_for_a_rotated_rescaled_copy():
    """unit_norm (isotropic) keeps rotations: B = 3 A Q + 2 maps onto A exactly."""
    g = torch.Generator().manual_seed(0)
    y = torch.randint(0, 4, (600,), generator=g)
    a = randn(4, 8, seed=7)[y] * 2 + randn(600, 8, seed=8)
    b = 3.0 * a @ random_orthogonal(8, seed=9) + 2.0
    args = (a[:300], y[:300], a[300:], y[300:], b[:300], b[300:])
    exact = al.probe_transfer(*args, normalize="unit_norm")
    assert exact.transfer_acc == exact.self_acc
    t = al.fit_map(b[:300], a[:300], "orthogonal", normalize="unit_norm")
    assert torch.allclose(t(b), a, atol=1e-9)


def test_stitch_without_ridge_is_the_same_for_every_normalisation():
    a, b = randn(300, 6, seed=11), randn(300, 5, seed=12) * 4 + 1
    y = (b[:, 0] > 1).long()
    w = randn(5, 2, seed=13)

    def tail(h):
        return h @ w.to(h.dtype)

    ref = al.linear_stitch(a[:200], b[:200], a[200:], y[200:], tail, b_eval=b[200:])
    for norm in NORMALIZATIONS:
        got = al.linear_stitch(a[:200], b[:200], a[200:], y[200:], tail, b_eval=b[200:],
                               normalize=norm)  # fmt: skip
        assert got.gap == pytest.approx(ref.gap, rel=1e-9)
        assert got.stitched_acc == ref.stitched_acc
