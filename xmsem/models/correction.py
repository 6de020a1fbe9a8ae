"""The PGNN correction path: a low-rank nonlinear map ``phi(h) = U act2(V h)``.

``V`` is ``(rank, in_features)``, ``U`` is ``(out_features, rank)``, no biases. Both are initialised
like :class:`torch.nn.Linear` weights (uniform in ``+-1/sqrt(fan_in)``), so ``phi(h)`` starts at
roughly the scale of the structured path's pre-activation; the layer multiplies it by ``alpha``
(default 0.1), making the correction a small perturbation at initialisation. Neither factor is
zero, so gradients reach both ``U`` and ``V`` from the first step.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .activations import activation_lipschitz, make_activation

__all__ = ["LowRankCorrection"]


class LowRankCorrection(nn.Module):
    """``phi(h) = U act2(V h)`` with ``U: out x rank`` and ``V: rank x in``."""

    def __init__(
        self, in_features: int, out_features: int, rank: int = 16, activation: str = "tanh"
    ) -> None:
        super().__init__()
        if isinstance(rank, bool) or not isinstance(rank, int) or rank < 1:
            raise ValueError(f"model spec key 'corr_rank': must be an int >= 1, got {rank!r}")
        self.rank = rank
        self.activation_name = activation
        self.act = make_activation(activation, key="corr_activation")
        self.V = nn.Parameter(torch.empty(rank, in_features))
        self.U = nn.Parameter(torch.empty(out_features, rank))
        nn.init.kaiming_uniform_(self.V, a=math.sqrt(5))
        nn.init.kaiming_uniform_(self.U, a=math.sqrt(5))

    def forward(self, h: Tensor) -> Tensor:
        """Return ``U act2(V h)`` for a batch ``h`` of shape ``(batch, in_features)``."""
        return F.linear(self.act(F.linear(h, self.V)), self.U)

    def add_to(self, z: Tensor, h: Tensor, alpha: float | Tensor) -> Tensor:
        """Return ``z + alpha * phi(h)`` in one fused ``addmm`` (same value as the plain sum)."""
        a = self.act(F.linear(h, self.V))
        if isinstance(alpha, Tensor):
            return torch.addmm(z, a, (alpha * self.U).t())
        return torch.addmm(z, a, self.U.t(), alpha=alpha)

    @torch.no_grad()
    def lipschitz(self) -> float:
        """Upper bound ``sigma_max(U) * Lip(act2) * sigma_max(V)`` on the Lipschitz constant."""
        su = torch.linalg.matrix_norm(self.U, ord=2).item()
        sv = torch.linalg.matrix_norm(self.V, ord=2).item()
        return su * activation_lipschitz(self.activation_name) * sv
