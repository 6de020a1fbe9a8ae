"""How well a representation linearly recovers known latent factors (synthetic data)."""

from __future__ import annotations

import torch
from torch import Tensor


def latent_r2(
    x_fit: Tensor, z_fit: Tensor, x_eval: Tensor, z_eval: Tensor, ridge: float = 1e-6
) -> Tensor:
    """Held-out R^2 of the least-squares readout z ~ x W + c, averaged over latent dimensions.

    Fitted on (x_fit, z_fit) with a tiny ridge (``ridge`` times the mean feature variance) for
    stability; scored on (x_eval, z_eval) as R^2_j = 1 - SSE_j / SST_j per latent j (SST about the
    eval mean), then averaged. 1 = the latents are a linear function of the representation; values
    can be negative for a readout worse than the mean.
    """
    if x_fit.shape[0] != z_fit.shape[0] or x_eval.shape[0] != z_eval.shape[0]:
        raise ValueError("latent_r2: x and z must have the same number of rows in each split")
    xf, zf = x_fit.double(), z_fit.double()
    xe, ze = x_eval.double(), z_eval.double()
    mx, mz = xf.mean(0), zf.mean(0)
    xc, zc = xf - mx, zf - mz
    gram = xc.T @ xc
    lam = ridge * gram.diagonal().mean().clamp_min(1e-12)
    w = torch.linalg.solve(gram + lam * torch.eye(gram.shape[0], dtype=gram.dtype), xc.T @ zc)
    pred = (xe - mx) @ w + mz
    sse = ((ze - pred) ** 2).sum(0)
    sst = ((ze - ze.mean(0)) ** 2).sum(0).clamp_min(1e-300)
    return (1.0 - sse / sst).mean()
