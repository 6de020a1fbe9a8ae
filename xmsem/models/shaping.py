"""Shaping operators ``S``: small modules with ``forward(W) -> S(W)`` for one weight matrix.

``W`` has shape ``(out_features, in_features)`` as in :class:`torch.nn.Linear`. Every operator also
offers :meth:`Shaping.exact`, the side-effect-free value of ``S(W)`` used for Lipschitz bounds.

* ``spectral``   ``W / max(1, sigma_max(W) / gamma)``. In train mode ``sigma_max`` is estimated by a
  warm-started power iteration (persistent buffer ``u``, ``power_iterations`` steps per forward, no
  gradient through the vectors, ``sigma = u^T W v`` differentiated through ``W``), as in
  :func:`torch.nn.utils.spectral_norm`. The estimate never exceeds the true ``sigma_max``, so in
  train mode ``sigma_max(S(W))`` may exceed ``gamma`` by the (small) estimation error. In eval mode
  and in :meth:`exact`, ``sigma_max`` is computed exactly (``torch.linalg.matrix_norm(W, ord=2)``),
  so ``sigma_max(S(W)) <= gamma`` holds there; when no gradient is needed the exact value is
  reused while the weight is bit for bit the same (:class:`~.weight_cache.WeightKeyedCache`), so
  repeated eval batches pay for it once and an in-place optimizer step is always seen.
* ``projection`` ``W P`` with ``P = Q Q^T``, ``Q`` the reduced QR factor of a learned
  ``(in_features, k)`` parameter (initialised N(0, 1)); ``P`` is the orthogonal projection onto a
  learned rank-``k`` subspace of the input space. Default ``k = min(in_features, out_features)``;
  for square layers this makes ``P`` the identity (full-rank projection).
* ``diagonal``   ``diag(g) W`` with a learned ``g`` (one gain per output unit) initialised to ones.
* ``none``       ``W`` itself (the same tensor object).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .checks import SHAPING_KINDS, check_shaping
from .weight_cache import WeightKeyedCache

__all__ = [
    "SHAPINGS",
    "DiagonalShaping",
    "IdentityShaping",
    "ProjectionShaping",
    "Shaping",
    "SpectralShaping",
    "build_shaping",
    "check_shaping",
    "exact_sigma_max",
]


class Shaping(nn.Module):
    """Base class: a map ``W -> S(W)`` on one ``(out_features, in_features)`` weight matrix."""

    def __init__(self, out_features: int, in_features: int) -> None:
        super().__init__()
        self.out_features = out_features
        self.in_features = in_features

    def exact(self, weight: Tensor) -> Tensor:
        """``S(W)`` without side effects (no buffer updates); exact where ``forward`` estimates."""
        return self(weight)

    def linear(self, h: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
        """``F.linear(h, S(W), bias)``; subclasses may compute it more cheaply (same value)."""
        return F.linear(h, self(weight), bias)

    def extra_repr(self) -> str:
        return f"out_features={self.out_features}, in_features={self.in_features}"


class IdentityShaping(Shaping):
    """``S(W) = W`` (returns the very same tensor)."""

    def forward(self, weight: Tensor) -> Tensor:
        """Return ``weight`` unchanged."""
        return weight


class DiagonalShaping(Shaping):
    """``S(W) = diag(g) W`` with learned gains ``g`` (one per output row), init ones."""

    def __init__(self, out_features: int, in_features: int) -> None:
        super().__init__(out_features, in_features)
        self.gain = nn.Parameter(torch.ones(out_features))

    def forward(self, weight: Tensor) -> Tensor:
        """Scale row ``i`` of ``weight`` by ``gain[i]``."""
        return self.gain.unsqueeze(1) * weight


class ProjectionShaping(Shaping):
    """``S(W) = W Q Q^T``: restrict ``W`` to a learned rank-``rank`` subspace of its input space."""

    def __init__(self, out_features: int, in_features: int, rank: int | None = None) -> None:
        super().__init__(out_features, in_features)
        k = min(in_features, out_features) if rank is None else rank
        if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= in_features:
            raise ValueError(
                f"model spec key 'proj_rank': must be an int in [1, {in_features}] "
                f"(the layer's input width), got {k!r}"
            )
        self.rank = k
        self.basis = nn.Parameter(torch.randn(in_features, k))

    def orthobasis(self) -> Tensor:
        """``Q`` (``in_features x rank``, orthonormal columns) spanning the learned subspace."""
        q, _ = torch.linalg.qr(self.basis, mode="reduced")
        return q

    def projector(self) -> Tensor:
        """The projection matrix ``P = Q Q^T`` (``in_features x in_features``)."""
        q = self.orthobasis()
        return q @ q.T

    def forward(self, weight: Tensor) -> Tensor:
        """Return ``W Q Q^T`` (computed as ``(W Q) Q^T``)."""
        q = self.orthobasis()
        return (weight @ q) @ q.T

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, rank={self.rank}"


class SpectralShaping(Shaping):
    """``S(W) = W / max(1, sigma_max(W) / gamma)``: cap the spectral norm at ``gamma``.

    Train mode: ``power_iterations`` warm-started power-iteration steps per forward (the first
    call does ``warmup_iterations`` instead). Eval mode and :meth:`exact`: exact ``sigma_max``.
    """

    def __init__(
        self,
        out_features: int,
        in_features: int,
        gamma: float = 1.0,
        power_iterations: int = 4,
        warmup_iterations: int = 20,
    ) -> None:
        super().__init__(out_features, in_features)
        if not gamma > 0:
            raise ValueError(f"model spec key 'gamma': must be a number > 0, got {gamma!r}")
        if power_iterations < 1:
            raise ValueError(
                f"model spec key 'power_iterations': must be an int >= 1, got {power_iterations!r}"
            )
        self.gamma = float(gamma)
        self.power_iterations = power_iterations
        self.warmup_iterations = warmup_iterations
        # Fixed generator: the start vector does not consume the caller's (seeded) global RNG.
        gen = torch.Generator().manual_seed(0)
        self.register_buffer("u", F.normalize(torch.randn(out_features, generator=gen), dim=0))
        self._warm = False
        self._sigma_cache: WeightKeyedCache[Tensor] = WeightKeyedCache()

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs) -> None:  # noqa: ANN001
        # A loaded ``u`` is the warm vector of the run that saved it: a resumed run must continue
        # with ``power_iterations`` steps exactly as the uninterrupted run does.
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)
        if prefix + "u" in state_dict:
            self._warm = True

    def train(self, mode: bool = True) -> SpectralShaping:
        # the exact sigma serves eval mode only: drop it (and its weight copy) while training
        if mode:
            self._sigma_cache.clear()
        return super().train(mode)

    def power_sigma(self, weight: Tensor) -> Tensor:
        """Power-iteration estimate of ``sigma_max(weight)`` (<= the true value); updates ``u``.

        Each step is ``v = W^T u / |W^T u|``, ``u = W v / |W v|``; the estimate is
        ``|W v| = u^T W v``. Only the last ``W v`` carries a gradient (to ``W``, equal to
        ``u v^T``), the vectors themselves carry none.
        """
        steps = self.power_iterations if self._warm else self.warmup_iterations
        with torch.no_grad():
            w = weight.detach()
            u = self.u.to(w.dtype)
            for step in range(steps):
                v = F.normalize(torch.mv(w.T, u), dim=0, eps=1e-12)
                if step < steps - 1:
                    u = F.normalize(torch.mv(w, v), dim=0, eps=1e-12)
        wv = torch.mv(weight, v)
        sigma = torch.linalg.vector_norm(wv)
        with torch.no_grad():
            self.u.copy_(wv / sigma.clamp_min(1e-12))
        self._warm = True
        return sigma

    def exact_sigma(self, weight: Tensor) -> Tensor:
        """Exact ``sigma_max(weight)``; differentiable when gradients are on, else reused while
        ``weight`` is unchanged (compared by content, never by version)."""
        if torch.is_grad_enabled() and weight.requires_grad:
            return torch.linalg.matrix_norm(weight, ord=2)
        return self._sigma_cache.get([weight], lambda: exact_sigma_max(weight))

    def _scale(self, weight: Tensor, sigma: Tensor) -> Tensor:
        # clamp(., min=1) is exactly 1 when sigma <= gamma, so W / 1 == W bit for bit.
        return weight / torch.clamp(sigma / self.gamma, min=1.0)

    def _sigma(self, weight: Tensor) -> Tensor:
        return self.power_sigma(weight) if self.training else self.exact_sigma(weight)

    def forward(self, weight: Tensor) -> Tensor:
        """``S(W)``: power-iteration estimate in train mode, exact ``sigma_max`` in eval mode."""
        return self._scale(weight, self._sigma(weight))

    def linear(self, h: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
        """``(W h) / max(1, sigma / gamma) + bias``: scales the (batch, out) output instead of the
        (out, in) weight, which makes forward and backward much cheaper on wide inputs."""
        inv_scale = 1.0 / torch.clamp(self._sigma(weight) / self.gamma, min=1.0)
        out = F.linear(h, weight)
        if bias is None:
            return out * inv_scale
        return torch.addcmul(bias, out, inv_scale)

    def exact(self, weight: Tensor) -> Tensor:
        """``S(W)`` with exact ``sigma_max`` in any mode; leaves ``u`` untouched."""
        return self._scale(weight, self.exact_sigma(weight))

    def extra_repr(self) -> str:
        return (
            f"{super().extra_repr()}, gamma={self.gamma}, power_iterations={self.power_iterations}"
        )


def exact_sigma_max(weight: Tensor) -> Tensor:
    """``sigma_max`` of ``(out, in)`` or ``(K, out, in)`` weights: the square root of the largest
    eigenvalue of the smaller Gram matrix, in float64 (3-4x cheaper than an SVD, exact to float32
    rounding); shape ``()`` or ``(K,)``, in ``weight``'s dtype and device."""
    with torch.no_grad():
        w = weight.detach().double()
        wt = w.transpose(-2, -1)
        gram = w @ wt if w.shape[-2] <= w.shape[-1] else wt @ w
        return torch.linalg.eigvalsh(gram)[..., -1].clamp_min(0.0).sqrt().to(weight.dtype)


SHAPINGS: dict[str, type[Shaping]] = dict(
    zip(SHAPING_KINDS, (SpectralShaping, ProjectionShaping, DiagonalShaping, IdentityShaping),
        strict=True)
)  # fmt: skip


def build_shaping(
    name: str,
    out_features: int,
    in_features: int,
    *,
    gamma: float = 1.0,
    proj_rank: int | None = None,
    power_iterations: int = 4,
) -> Shaping:
    """Build the shaping operator ``name`` for an ``(out_features, in_features)`` weight."""
    check_shaping(name)
    if name == "spectral":
        return SpectralShaping(out_features, in_features, gamma, power_iterations)
    if name == "projection":
        return ProjectionShaping(out_features, in_features, proj_rank)
    return SHAPINGS[name](out_features, in_features)
