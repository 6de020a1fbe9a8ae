"""How well a representation linearly recovers known latent factors (synthetic data)."""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from ._checks import all_finite, as_matrix, nan_like, numpy_io, warn_degenerate

__all__ = ["latent_r2"]


@numpy_io
def latent_r2(
    x_fit: Tensor | np.ndarray,
    z_fit: Tensor | np.ndarray,
    x_eval: Tensor | np.ndarray,
    z_eval: Tensor | np.ndarray,
    ridge: float = 1e-6,
) -> Tensor:
    """Held-out R^2 of the least-squares readout z ~ x W + c, averaged over latent dimensions.

    Fitted on (x_fit, z_fit) with a tiny ridge (``ridge`` times the mean feature variance) for
    stability; scored on (x_eval, z_eval) as R^2_j = 1 - SSE_j / SST_j per latent j (SST about the
    eval mean), then averaged. 1 = the latents are a linear function of the representation; values
    can be negative for a readout worse than the mean. 1-D ``x`` / ``z`` are one column.

    A latent that is constant on the eval split (SST_j = 0 up to rounding) has no R^2 (0/0): it
    is left out of the average with a ``DegenerateInputWarning``; when every latent is, or the
    input holds NaN/inf, the result is NaN (warned). A 0-d float64 tensor on ``x_fit``'s device.
    """
    xf, zf = as_matrix(x_fit, "x_fit"), as_matrix(z_fit, "z_fit")
    xe, ze = as_matrix(x_eval, "x_eval"), as_matrix(z_eval, "z_eval")
    if xf.shape[0] != zf.shape[0] or xe.shape[0] != ze.shape[0]:
        raise ValueError("latent_r2: x and z must have the same number of rows in each split")
    if xf.shape[1] != xe.shape[1] or zf.shape[1] != ze.shape[1]:
        raise ValueError("latent_r2: fit and eval splits must have the same widths")
    if not all_finite(xf, zf, xe, ze):
        warn_degenerate("latent_r2", "input contains NaN or inf")
        return nan_like(xf)
    mx, mz = xf.mean(0), zf.mean(0)
    xc, zc = xf - mx, zf - mz
    gram = xc.T @ xc
    lam = ridge * gram.diagonal().mean().clamp_min(1e-12)
    gram.diagonal().add_(lam)  # + lam I without creating an identity (device follows gram)
    w = torch.linalg.solve(gram, xc.T @ zc)
    pred = (xe - mx) @ w + mz
    sse = ((ze - pred) ** 2).sum(0)
    zec = ze - ze.mean(0)
    sst = (zec**2).sum(0)
    # constant up to the rounding of the mean subtraction, relative to the latent's own size
    eps = torch.finfo(torch.float64).eps
    live = sst > (8 * ze.shape[0] * eps) ** 2 * (ze**2).sum(0)
    if not bool(live.all()):
        warn_degenerate(
            "latent_r2", f"{int((~live).sum())} latent(s) constant on the eval split (no R^2)"
        )
        if not bool(live.any()):
            return nan_like(xf)
    return (1.0 - sse[live] / sst[live]).mean()
