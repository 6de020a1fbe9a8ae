"""Procrustes size-and-shape distance (Dryden & Mardia 2016, "Statistical Shape Analysis",
Sec. 5; Williams et al. 2021's rotation-invariant metric before normalisation; ReSi, Klabunde et
al. 2024, Sec. 3.2).

On centred X, Y (zero-padded to a common width), without rescaling:

    d(X, Y) = min_{R^T R = I} ||X_c R - Y_c||_F = sqrt(||X_c||_F^2 + ||Y_c||_F^2 - 2 ||X_c^T Y_c||_*)

(Schönemann 1966). A metric in [0, inf) that keeps scale (``procrustes`` is its normalised
sibling): 0 iff Y is a rotation of X up to a shift. Invariant to orthogonal maps and translation,
not to scaling or invertible maps. O(n d^2 + d^3).
"""

from __future__ import annotations

import torch
from torch import Tensor

from .._checks import centre, check_pair, nan_like, numpy_io
from ..registry import SYMMETRIC, MetricSpec, register
from ._common import guard, pad_to, procrustes_rotation

__all__ = ["procrustes_size_shape"]


@numpy_io
def procrustes_size_shape(x: Tensor, y: Tensor) -> Tensor:
    """Procrustes size-and-shape distance of ``x`` (n, p) and ``y`` (n, q) (module doc)."""
    x, y = check_pair(x, y)
    pair = guard(x, y, "procrustes_size_shape")
    if pair is None:
        return nan_like(x)
    width = max(x.shape[1], y.shape[1])
    a, b = pad_to(centre(pair[0]), width), pad_to(centre(pair[1]), width)
    # the residual itself, not sqrt(||a||^2 + ||b||^2 - 2 nuclear): that difference cancels to
    # rounding noise of ||a||^2 for near-identical shapes, and its square root magnifies it
    return torch.linalg.matrix_norm(a @ procrustes_rotation(a, b) - b)


register(MetricSpec(
    "procrustes_size_shape", "distance", frozenset({"orthogonal", "translation"}), "reps",
    procrustes_size_shape, "Unnormalised orthogonal Procrustes distance of centred reps (ReSi).",
    (0.0, float("inf")), label="Procrustes size-and-shape distance", direction=SYMMETRIC,
))  # fmt: skip
