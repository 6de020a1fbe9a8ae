"""Shared helpers for the alignment tests: seeded data and transformations."""

from __future__ import annotations

import torch


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def randn(*shape: int, seed: int = 0) -> torch.Tensor:
    return torch.randn(*shape, generator=gen(seed), dtype=torch.float64)


def random_orthogonal(d: int, seed: int = 1) -> torch.Tensor:
    q, r = torch.linalg.qr(randn(d, d, seed=seed))
    return q * torch.sign(torch.diagonal(r))


def generic_invertible(d: int, seed: int = 2) -> torch.Tensor:
    """A well-conditioned but strongly anisotropic invertible map (condition number 1000)."""
    u = random_orthogonal(d, seed)
    v = random_orthogonal(d, seed + 100)
    s = torch.logspace(0, torch.log10(torch.tensor(1000.0)).item(), d, dtype=torch.float64)
    return u @ torch.diag(s) @ v.T


def related_pair(n: int = 300, p: int = 12, q: int = 10, noise: float = 0.5, seed: int = 0):
    """Two representations sharing a latent signal, anisotropic enough that invertible maps
    change non-invariant metrics."""
    z = randn(n, 6, seed=seed)
    scale = torch.logspace(0, 1, p, dtype=torch.float64)
    x = (z @ randn(6, p, seed=seed + 1)) * scale + noise * randn(n, p, seed=seed + 2)
    y = torch.tanh(z @ randn(6, q, seed=seed + 3)) + noise * randn(n, q, seed=seed + 4)
    return x, y
