"""Shared pieces of the measure modules: input guards, distances, neighbours, ranks.

Every measure follows the conventions of :mod:`xmsem.alignment._checks`: wrong shapes raise a
one-line ValueError; NaN/inf input, a constant representation (where the measure is undefined
for it) or too few examples for the requested neighbourhood give NaN with a
:class:`~xmsem.alignment.DegenerateInputWarning`; results are 0-d float64 tensors on the
inputs' device.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from .._checks import centre, check_constant, check_pair, nan_like, nonfinite, warn_degenerate

__all__ = [
    "Undefined",
    "canonical",
    "column_basis",
    "cosine_matrix",
    "distance_matrix",
    "guard",
    "guard_one",
    "harmonic",
    "knn_cosine",
    "knn_indices",
    "nan_if_undefined",
    "pad_to",
    "procrustes_rotation",
    "rank_average",
    "undefined",
    "unit_rows",
]


@dataclass(frozen=True)
class Undefined:
    """The per-representation part (``prepare``) of a representation a measure is undefined for
    (non-finite, constant, too few examples; already warned). It keeps the input's device, so
    that the pair's NaN from ``finish`` is created there, not on the CPU."""

    like: Tensor  # a 0-d float64 NaN on the input's device


def undefined(x: Tensor) -> Undefined:
    """The :class:`Undefined` part of ``x``."""
    return Undefined(nan_like(x))


def nan_if_undefined(a: Any, b: Any) -> Tensor | None:
    """``finish``'s NaN (0-d float64 on the inputs' device) when a part is :class:`Undefined`,
    else None (both parts are valid)."""
    for part in (a, b):
        if isinstance(part, Undefined):
            return part.like.clone()
    return None


def guard(x: Tensor, y: Tensor, what: str, *, constant: bool = True, min_n: int = 2
          ) -> tuple[Tensor, Tensor] | None:  # fmt: skip
    """Float64 copies of a valid pair, or None (NaN case, warned): non-finite input, or with
    ``constant`` a representation whose examples are all identical."""
    x, y = check_pair(x, y, min_n=min_n)
    if nonfinite(x, y, what=what):
        return None
    if constant and check_constant(what, [(x, centre(x)), (y, centre(y))]):
        return None
    return x, y


def guard_one(x: Tensor, what: str, *, constant: bool = True) -> Tensor | None:
    """:func:`guard` for one representation (the per-representation part of a measure)."""
    out = guard(x, x, what, constant=constant)
    return None if out is None else out[0]


def unit_rows(x: Tensor, what: str) -> Tensor | None:
    """Rows scaled to unit norm (cosine geometry); None (warned) when a row is zero."""
    norms = torch.linalg.vector_norm(x, dim=1, keepdim=True)
    if bool((norms <= torch.finfo(torch.float64).tiny).any()):
        warn_degenerate(what, "an example's representation is the zero vector (no direction)")
        return None
    return x / norms


def cosine_matrix(x: Tensor, what: str) -> Tensor | None:
    """(n, n) cosine similarities of the rows; None (warned) when a row is zero."""
    u = unit_rows(x, what)
    return None if u is None else u @ u.T


def distance_matrix(x: Tensor) -> Tensor:
    """(n, n) Euclidean distances of the rows, from the differences themselves (not the Gram
    route ||a||^2 + ||b||^2 - 2 a.b, whose rounding breaks exact ties that rank-based measures
    must see as ties, and loses digits for nearby points)."""
    return torch.cdist(x, x, compute_mode="donot_use_mm_for_euclid_dist")


def knn_indices(sim: Tensor, k: int, what: str) -> Tensor | None:
    """(n, k) indices of each row's k most similar OTHER rows, most similar first (the row
    itself excluded); None (warned) when k > n - 1."""
    n = sim.shape[0]
    if k > n - 1:
        warn_degenerate(what, f"k={k} neighbours need n > k examples, got n={n}")
        return None
    s = sim.clone()
    s.diagonal().fill_(float("-inf"))
    return torch.topk(s, k, dim=1).indices


def knn_cosine(x: Tensor, k: int, what: str) -> Tensor | None:
    """:func:`knn_indices` by cosine similarity (None, warned, for a zero row or k >= n)."""
    sim = cosine_matrix(x, what)
    return None if sim is None else knn_indices(sim, k, what)


def rank_average(v: Tensor) -> Tensor:
    """Ranks 1..m of a 1-D tensor, ties sharing their average rank (scipy's ``rankdata``)."""
    order = torch.argsort(v, stable=True)
    sorted_v = v[order]
    _, inverse, counts = torch.unique_consecutive(sorted_v, return_inverse=True,
                                                  return_counts=True)  # fmt: skip
    ends = torch.cumsum(counts, 0).to(torch.float64)
    avg = ends - (counts.to(torch.float64) - 1.0) / 2.0  # mean of the tied positions
    ranks = torch.empty_like(v, dtype=torch.float64)
    ranks[order] = avg[inverse]
    return ranks


def harmonic(m: Tensor, k: int) -> Tensor:
    """H_m = sum_{l=1..m} 1/l for integer tensors ``m`` in 0..k (H_0 = 0)."""
    table = torch.cat([torch.zeros(1, dtype=torch.float64, device=m.device),
                       torch.cumsum(1.0 / torch.arange(1, k + 1, dtype=torch.float64,
                                                       device=m.device), 0)])  # fmt: skip
    return table[m]


def column_basis(x: Tensor, energy: float = 1.0) -> Tensor:
    """Orthonormal basis (n, r) of the column space of ``x``: its left singular vectors of
    numerical rank, or with ``energy < 1`` the fewest leading ones whose squared singular values
    hold at least that fraction of the total (SVCCA's truncation)."""
    u, s, _ = torch.linalg.svd(x, full_matrices=False)
    tol = max(x.shape) * torch.finfo(torch.float64).eps * s[0]
    rank = max(int((s > tol).sum()), 1)
    if energy < 1.0:
        frac = torch.cumsum(s.square(), 0) / s.square().sum()
        rank = min(rank, int((frac < energy - 1e-12).sum()) + 1)
    return u[:, :rank]


def canonical(ux: Tensor, uy: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """Canonical correlations (descending, min(rx, ry) of them) of two orthonormal bases and
    the rotations (L, R) with ``ux L`` / ``uy R`` the canonical variates (Bjorck & Golub 1973)."""
    left, rho, right_t = torch.linalg.svd(ux.T @ uy, full_matrices=False)
    return rho.clamp(0.0, 1.0), left, right_t.T


def pad_to(x: Tensor, width: int) -> Tensor:
    """``x`` with zero columns appended up to ``width`` (Procrustes between different widths)."""
    if x.shape[1] >= width:
        return x
    return torch.cat([x, x.new_zeros(x.shape[0], width - x.shape[1])], dim=1)


def procrustes_rotation(x: Tensor, y: Tensor) -> Tensor:
    """The orthogonal R minimising ||x R - y||_F (x, y of one width): R = U V^T from the SVD
    x^T y = U S V^T (Schönemann 1966)."""
    u, _, vt = torch.linalg.svd(x.T @ y)
    return u @ vt


def cosine_neighbours(what: str) -> Callable[[Tensor, Mapping[str, Any]], Tensor | Undefined]:
    """The ``prepare`` step of a kNN measure named ``what``: the (n, k) cosine neighbours of each
    example (``params["k"]``), or :class:`Undefined` (warned) when they are undefined."""

    def neighbours(x: Tensor, params: Mapping[str, Any]) -> Tensor | Undefined:
        v = guard_one(x, what)
        nn = None if v is None else knn_cosine(v, params["k"], what)
        return undefined(x) if nn is None else nn

    return neighbours
