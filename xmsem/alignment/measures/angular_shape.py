"""Angular shape metric (Williams, Kunz, Kornblith, Linderman 2021, "Generalized shape metrics
on neural representations", NeurIPS; netrep's ``LinearMetric``).

Each representation is centred, partially whitened,
phi_alpha(X) = X_c (alpha I + (1 - alpha) C_X^{-1/2}) with C_X = X_c^T X_c / n
(alpha = 1: none, the Procrustes shape metric; alpha = 0: full whitening, a CCA metric),
zero-padded to a common width and scaled to unit Frobenius norm; then

    theta(X, Y) = arccos max_{R^T R = I} <phi(X) R, phi(Y)> = arccos ||phi(X)^T phi(Y)||_*

in [0, pi/2] radians, 0 iff Y is X up to rotation, scale and shift (alpha = 1). A metric (the
triangle inequality holds). Invariant to orthogonal maps, isotropic scaling and translation
(alpha = 0 adds every invertible map). O(n d^2 + d^3).
"""

from __future__ import annotations

import torch
from torch import Tensor

from .._checks import centre, check_pair, clamp_rounding, nan_like, numpy_io, warn_degenerate
from ..registry import CLOSED_UNIT_INTERVAL, SYMMETRIC, MetricSpec, register
from ._common import guard, pad_to

__all__ = ["angular_shape"]


def _whiten(xc: Tensor, alpha: float) -> Tensor | None:
    if alpha == 1.0:
        return xc
    evals, evecs = torch.linalg.eigh(xc.T @ xc / xc.shape[0])
    if bool(evals[0] <= evals[-1] * xc.shape[1] * torch.finfo(torch.float64).eps):
        warn_degenerate("angular_shape", "whitening needs full column rank")
        return None
    inv_sqrt = (evecs * evals.rsqrt()) @ evecs.T
    eye = torch.eye(xc.shape[1], dtype=xc.dtype, device=xc.device)
    return xc @ (alpha * eye + (1.0 - alpha) * inv_sqrt)


@numpy_io
def angular_shape(x: Tensor, y: Tensor, alpha: float = 1.0) -> Tensor:
    """Angular shape distance (radians) of ``x`` and ``y`` (module doc)."""
    x, y = check_pair(x, y)
    pair = guard(x, y, "angular_shape")
    if pair is None:
        return nan_like(x)
    a, b = _whiten(centre(pair[0]), alpha), _whiten(centre(pair[1]), alpha)
    if a is None or b is None:
        return nan_like(x)
    width = max(a.shape[1], b.shape[1])
    a, b = pad_to(a / torch.linalg.norm(a), width), pad_to(b / torch.linalg.norm(b), width)
    cos = clamp_rounding(torch.linalg.svdvals(a.T @ b).sum(), 0.0, 1.0, "angular_shape")
    return torch.arccos(cos)


register(MetricSpec(
    "angular_shape", "distance", frozenset({"orthogonal", "isotropic_scale", "translation"}),
    "reps", angular_shape,
    "arccos of the Procrustes-aligned correlation, partial whitening alpha (Williams et al. 2021).",
    (0.0, torch.pi / 2), label="angular shape distance", direction=SYMMETRIC,
    options={"alpha": CLOSED_UNIT_INTERVAL},
))  # fmt: skip
