"""Shaping operators: spectral cap, projection, diagonal gains, identity."""

from __future__ import annotations

import pickle

import pytest
import torch
import torch.nn.functional as F

from xmsem.models import (
    DiagonalShaping,
    IdentityShaping,
    ProjectionShaping,
    SpectralShaping,
    build_shaping,
)


def sigma_max(w: torch.Tensor) -> float:
    return torch.linalg.matrix_norm(w.detach().double(), ord=2).item()


@pytest.mark.parametrize("gamma", [1.0, 0.5, 3.0])
@pytest.mark.parametrize("scale", [10.0, 1.0, 0.3])
def test_spectral_caps_sigma_in_eval_mode(gamma: float, scale: float) -> None:
    g = torch.Generator().manual_seed(1)
    w = torch.randn(48, 64, generator=g) * scale / 8  # sigma_max ~ 1.9 * scale
    op = SpectralShaping(48, 64, gamma=gamma).eval()
    s = op(w)
    assert sigma_max(s) <= gamma * (1 + 1e-5)
    if sigma_max(w) > gamma:
        assert sigma_max(s) == pytest.approx(gamma, rel=1e-5)
        torch.testing.assert_close(s, w * (gamma / sigma_max(w)), rtol=1e-5, atol=1e-7)
    else:
        assert torch.equal(s, w)


def test_spectral_small_norm_is_unchanged_in_both_modes() -> None:
    w = torch.randn(30, 20, generator=torch.Generator().manual_seed(2)) * 0.01
    assert sigma_max(w) < 1.0
    op = SpectralShaping(30, 20, gamma=1.0)
    assert torch.equal(op.train()(w), w)
    assert torch.equal(op.eval()(w), w)


def test_spectral_power_iteration_underestimates_and_converges() -> None:
    g = torch.Generator().manual_seed(3)
    w = torch.randn(40, 60, generator=g)
    exact = sigma_max(w)
    op = SpectralShaping(40, 60, gamma=1.0, power_iterations=1).train()
    estimates = []
    for _ in range(200):
        estimates.append(op.power_sigma(w).item())
    assert max(estimates) <= exact * (1 + 1e-6)  # a Rayleigh quotient never exceeds sigma_max
    assert estimates[-1] == pytest.approx(exact, rel=1e-3)
    # warmed up: sigma of the train-mode S(W) is gamma up to the estimation error
    assert sigma_max(op(w)) == pytest.approx(1.0, rel=1e-3)


def test_spectral_train_mode_gradient_matches_exact_gradient() -> None:
    # With a separated top singular value the power iteration converges, and the gradient through
    # u^T W v (vectors detached) equals the gradient of the exact sigma_max.
    g = torch.Generator().manual_seed(4)
    q1, _ = torch.linalg.qr(torch.randn(20, 20, generator=g, dtype=torch.float64))
    q2, _ = torch.linalg.qr(torch.randn(30, 20, generator=g, dtype=torch.float64))
    svals = torch.cat([torch.tensor([3.0]), torch.linspace(2.0, 0.5, 19)]).double()
    w0 = q1 @ torch.diag(svals) @ q2.T
    r = torch.randn(20, 30, generator=g, dtype=torch.float64)
    grads = {}
    for mode in ("train", "eval"):
        w = w0.clone().requires_grad_(True)
        op = SpectralShaping(20, 30, gamma=1.0).train(mode == "train")
        with torch.no_grad():
            for _ in range(60 if mode == "train" else 0):
                op(w)
        (op(w) * r).sum().backward()
        grads[mode] = w.grad
    torch.testing.assert_close(grads["train"], grads["eval"], rtol=1e-6, atol=1e-8)
    assert grads["train"].abs().max() > 0.01


def test_spectral_train_mode_updates_buffer_exact_does_not() -> None:
    w = torch.randn(16, 24, generator=torch.Generator().manual_seed(5))
    op = SpectralShaping(16, 24).train()
    u0 = op.u.clone()
    s_exact = op.exact(w)
    assert torch.equal(op.u, u0)
    assert sigma_max(s_exact) == pytest.approx(1.0, rel=1e-5)
    op(w)
    assert not torch.allclose(op.u, u0)
    assert op.u.norm().item() == pytest.approx(1.0, rel=1e-5)
    assert not op.u.requires_grad


def test_spectral_eval_cache_follows_in_place_updates() -> None:
    w = torch.nn.Parameter(torch.randn(10, 12, generator=torch.Generator().manual_seed(6)))
    op = SpectralShaping(10, 12, gamma=1.0).eval()
    with torch.no_grad():
        first = op(w).clone()
        assert torch.equal(op(w), first)  # cached path gives the same value
        w.mul_(0.01)  # in-place optimiser-style update bumps the version
        assert sigma_max(w) < 1.0
        assert torch.equal(op(w), w)
    op2 = pickle.loads(pickle.dumps(op))  # the weakref cache does not break pickling
    with torch.no_grad():
        assert torch.equal(op2(w), w)


def test_projection_is_symmetric_idempotent_rank_k() -> None:
    torch.manual_seed(7)
    op = ProjectionShaping(8, 20, rank=5).double()
    p = op.projector().detach()
    torch.testing.assert_close(p, p.T)
    torch.testing.assert_close(p @ p, p)
    assert torch.linalg.matrix_rank(p).item() == 5
    assert torch.trace(p).item() == pytest.approx(5.0)
    w = torch.randn(8, 20, dtype=torch.float64)
    torch.testing.assert_close(op(w), w @ p)
    # the projected weight ignores inputs orthogonal to the learned subspace
    x_perp = (torch.eye(20, dtype=torch.float64) - p) @ torch.randn(20, dtype=torch.float64)
    assert (op(w) @ x_perp).abs().max().item() < 1e-10


def test_projection_default_rank_and_bad_rank() -> None:
    assert ProjectionShaping(8, 20).rank == 8
    assert ProjectionShaping(30, 20).rank == 20
    for bad in (0, 21, -1, 2.0):
        with pytest.raises(ValueError, match="proj_rank"):
            ProjectionShaping(8, 20, rank=bad)


def test_none_returns_the_same_tensor() -> None:
    w = torch.randn(3, 4)
    assert IdentityShaping(3, 4)(w) is w
    assert build_shaping("none", 3, 4)(w) is w


def test_diagonal_is_diag_g_times_w() -> None:
    torch.manual_seed(8)
    op = DiagonalShaping(6, 4)
    w = torch.randn(6, 4)
    assert torch.equal(op(w), w)  # gains start at one
    with torch.no_grad():
        op.gain.copy_(torch.tensor([2.0, -1.0, 0.5, 0.0, 3.0, 1.0]))
    torch.testing.assert_close(op(w), torch.diag(op.gain.detach()) @ w)


@pytest.mark.parametrize("name", ["spectral", "projection", "diagonal", "none"])
@pytest.mark.parametrize("training", [True, False])
def test_linear_equals_flinear_of_shaped_weight(name: str, training: bool) -> None:
    torch.manual_seed(9)
    op = build_shaping(name, 12, 10, gamma=0.7).double().train(training)
    w = torch.randn(12, 10, dtype=torch.float64)
    b = torch.randn(12, dtype=torch.float64)
    h = torch.randn(5, 10, dtype=torch.float64)
    if name == "spectral" and training:
        for _ in range(100):  # converge the estimate so successive calls agree
            op(w)
    expected = F.linear(h, op(w), b)
    torch.testing.assert_close(op.linear(h, w, b), expected)
    torch.testing.assert_close(op.linear(h, w), expected - b)


def test_unknown_shaping_lists_valid_ones() -> None:
    with pytest.raises(ValueError, match="shaping.*'spectr'.*spectral, projection, diagonal, none"):
        build_shaping("spectr", 3, 4)
