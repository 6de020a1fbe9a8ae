"""Exact chance values of linear CKA and subspace overlap: the mean of the permutation null.

Shuffling the rows of one representation breaks the example-to-example correspondence and keeps
everything else (spectrum, width, scale). The *mean over all n! row permutations* of two metrics
has a closed form, so the chance value at this n and these widths costs nothing and has no
Monte-Carlo error (:func:`xmsem.alignment.permutation_null`, where present, samples the whole
null distribution for p-values and for metrics without a closed form).

Biased linear CKA of centred X (n, p), Y (n, q), K = X X^T, L = Y Y^T (both doubly centred):
for a uniformly random permutation matrix P, E[L_{pi(i) pi(i)}] = tr L / n and, for i != j,
E[L_{pi(i) pi(j)}] = (1^T L 1 - tr L) / (n (n-1)) = -tr L / (n (n-1)) (centred: 1^T L 1 = 0).
With sum_{i != j} K_ij = -tr K this gives E tr(K P L P^T) = tr K tr L / (n - 1), and the
denominator ||K||_F ||P L P^T||_F does not depend on P, so

    E_P[CKA(X, P Y)] = ||X||_F^2 ||Y||_F^2 / ((n - 1) ||X^T X||_F ||Y^T Y||_F).

Subspace overlap (mean cos^2 of the principal angles between the top-k left singular subspaces,
U_x, U_y (n, k), orthonormal columns orthogonal to 1): for centred unit vectors u, v,
E_P[(u^T P v)^2] = 1 / (n - 1) (Var of a linear permutation statistic), so
E ||U_x^T P U_y||_F^2 = k^2 / (n - 1) and

    E_P[overlap] = k / (n - 1),

whatever the data: the chance level of k directions in the (n-1)-dimensional centred space.
"""

from __future__ import annotations

import math

from .prepared import Prepared

__all__ = ["linear_cka_chance", "subspace_overlap_chance"]


def linear_cka_chance(px: Prepared, py: Prepared) -> float:
    """Mean of biased linear CKA over all row permutations of one side (module doc); NaN for a
    degenerate side or n < 2."""
    n = px.n
    if px.degenerate or py.degenerate or n < 2 or py.n != n:
        return math.nan
    num = float(px.row_sq.sum()) * float(py.row_sq.sum())
    den = (n - 1) * math.sqrt(float(px.hsic)) * math.sqrt(float(py.hsic))
    return num / den if den > 0 else math.nan


def subspace_overlap_chance(n: int, k: int) -> float:
    """Mean subspace overlap of top-k subspaces over row permutations: k / (n - 1)."""
    if n < 2 or not 1 <= k <= n - 1:
        return math.nan
    return k / (n - 1)
