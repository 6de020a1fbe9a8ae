"""Seed ensembles as one vectorised network: K copies of an MLP or PGNN with stacked weights.

:class:`EnsembleNet` holds K independently initialised copies of one network as *natively
batched* layers: every weight is ``(K, out, in)``, every bias ``(K, out)``, and one forward runs
all copies at once (``addmm`` for the first layer when all copies share the input, ``baddbmm``
after that). Its ``state_dict`` has exactly the keys of the plain network, each with a leading
copy dimension, so building it is stacking K plain state dicts (:meth:`EnsembleNet.from_copies`)
and :meth:`EnsembleNet.copy_module` gives copy ``k`` back as an ordinary :class:`MLP` / :class:`PGNN`
(for stitching tails, Lipschitz bounds, noise tests — code that knows nothing of ensembles).

Shapes: the input is ``(B, D)`` (all copies see the same batch) or ``(K, B, D)`` (each copy its own
batch); logits are ``(K, B, C)`` and every hidden layer ``(K, B, d)``.

Why natively batched rather than ``torch.func.vmap`` over ``functional_call``: measured on the 2-core
CPU of this project (docs/pgnn.md, "Seed ensembles"), and the spectral shaping's warm-started power
iteration updates a buffer in place, which the batched layers do directly, once per layer for all
copies (:class:`BatchedSpectralShaping`).
"""

from __future__ import annotations

import copy as _copy
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .activations import make_activation
from .base import HiddenNet, run_blocks
from .correction import LowRankCorrection
from .mlp import MLP, LinearBlock
from .pgnn import PGNN, PGNNBlock, ShapedLinear
from .shaping import (
    DiagonalShaping,
    IdentityShaping,
    ProjectionShaping,
    Shaping,
    SpectralShaping,
    exact_sigma_max,
)
from .weight_cache import WeightKeyedCache

__all__ = ["EnsembleNet", "batched_linear"]


def batched_linear(h: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """``h W_k^T + b_k`` for every copy ``k``: ``(B, in)`` or ``(K, B, in)`` -> ``(K, B, out)``.

    ``weight`` is ``(K, out, in)``, ``bias`` ``(K, out)``. A shared input is one ``(B, in) x
    (in, K*out)`` product (the widest GEMM, cheapest on every device); per-copy inputs use
    ``baddbmm``.
    """
    k, out, inp = weight.shape
    if h.dim() == 2:
        w = weight.reshape(k * out, inp)
        y = h @ w.T if bias is None else torch.addmm(bias.reshape(k * out), h, w.T)
        # contiguous (K, B, out): strided views made every later op and its backward slower
        return y.view(h.shape[0], k, out).transpose(0, 1).contiguous()
    wt = weight.transpose(1, 2)
    if bias is None:
        return torch.bmm(h, wt)
    return torch.baddbmm(bias.unsqueeze(1), h, wt)


def _bmv(w: Tensor, x: Tensor, transpose: bool = False) -> Tensor:
    """``W_k x_k`` (or ``W_k^T x_k``) for every copy: ``(K, out, in)``, ``(K, in)`` -> ``(K, out)``.

    One ``bmm`` on accelerators (one kernel for all copies); on the CPU a loop of ``mv``, because
    ``bmm`` with a vector operand does not use the matrix-vector kernel there and was measured
    3-4x slower (20 copies of 784 x 256)."""
    mats = w.transpose(1, 2) if transpose else w
    if w.device.type != "cpu":
        return torch.bmm(mats, x.unsqueeze(2)).squeeze(2)
    return torch.stack([torch.mv(m, v) for m, v in zip(mats, x, strict=True)])


# --------------------------------------------------------------------------- shaping
class BatchedShaping(nn.Module):
    """Base: ``S`` applied to each copy's ``(out, in)`` weight of a ``(K, out, in)`` stack."""

    def exact(self, weight: Tensor) -> Tensor:
        return self(weight)

    def linear(self, h: Tensor, weight: Tensor, bias: Tensor | None) -> Tensor:
        """``S(W_k) h + b_k`` per copy."""
        return batched_linear(h, self(weight), bias)


class BatchedIdentity(BatchedShaping):
    """``S(W) = W``."""

    def forward(self, weight: Tensor) -> Tensor:
        return weight


class BatchedDiagonal(BatchedShaping):
    """``S(W_k) = diag(g_k) W_k``; ``gain`` is ``(K, out)``."""

    def __init__(self, k: int, out_features: int) -> None:
        super().__init__()
        self.gain = nn.Parameter(torch.ones(k, out_features))

    def forward(self, weight: Tensor) -> Tensor:
        return self.gain.unsqueeze(2) * weight


class BatchedProjection(BatchedShaping):
    """``S(W_k) = W_k Q_k Q_k^T``, ``Q_k`` the QR factor of ``basis[k]`` (``(K, in, rank)``)."""

    def __init__(self, k: int, in_features: int, rank: int) -> None:
        super().__init__()
        self.basis = nn.Parameter(torch.zeros(k, in_features, rank))

    def forward(self, weight: Tensor) -> Tensor:
        q, _ = torch.linalg.qr(self.basis, mode="reduced")
        return torch.bmm(torch.bmm(weight, q), q.transpose(1, 2))


class BatchedSpectralShaping(BatchedShaping):
    """``S(W_k) = W_k / max(1, sigma_max(W_k) / gamma)`` with the cap per copy.

    Train mode: the warm-started power iteration of :class:`SpectralShaping`, run for all K copies
    at once (``bmm`` of ``(K, out, in)`` with ``(K, in, 1)``); ``u`` is ``(K, out)``. Eval mode: the
    exact ``sigma_max`` of every copy (largest eigenvalue of the smaller Gram matrix, float64),
    reused while the weights are bit for bit unchanged (compared by content: the fused Adam
    of ensembles updates in place without bumping ``Tensor._version``).
    """

    def __init__(
        self, k: int, out_features: int, gamma: float, power_iterations: int, warmup: int
    ) -> None:
        super().__init__()
        self.gamma = float(gamma)
        self.power_iterations = power_iterations
        self.warmup_iterations = warmup
        self.register_buffer("u", torch.zeros(k, out_features))
        self._warm = False
        self._sigma_cache: WeightKeyedCache[Tensor] = WeightKeyedCache()

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs) -> None:  # noqa: ANN001
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)
        if prefix + "u" in state_dict:  # a saved u is warm (see SpectralShaping)
            self._warm = True

    def train(self, mode: bool = True) -> BatchedSpectralShaping:
        if mode:  # the exact sigma serves eval mode only
            self._sigma_cache.clear()
        return super().train(mode)

    def power_sigma(self, weight: Tensor) -> Tensor:
        """Per-copy power-iteration estimate ``(K,)`` of ``sigma_max(W_k)``; updates ``u``."""
        steps = self.power_iterations if self._warm else self.warmup_iterations
        with torch.no_grad():
            w = weight.detach()
            u = self.u.to(w.dtype)
            for step in range(steps):
                v = F.normalize(_bmv(w, u, transpose=True), dim=1, eps=1e-12)
                if step < steps - 1:
                    u = F.normalize(_bmv(w, v), dim=1, eps=1e-12)
        wv = _bmv(weight, v)  # (K, out), differentiable through W
        sigma = torch.linalg.vector_norm(wv, dim=1)
        with torch.no_grad():
            self.u.copy_(wv / sigma.clamp_min(1e-12).unsqueeze(1))
        self._warm = True
        return sigma

    def exact_sigma(self, weight: Tensor) -> Tensor:
        """Exact ``sigma_max`` of every copy, ``(K,)``; differentiable when gradients are on."""
        if torch.is_grad_enabled() and weight.requires_grad:
            return torch.linalg.matrix_norm(weight, ord=2)
        return self._sigma_cache.get([weight], lambda: exact_sigma_max(weight))

    def _inv_scale(self, weight: Tensor) -> Tensor:
        sigma = self.power_sigma(weight) if self.training else self.exact_sigma(weight)
        return 1.0 / torch.clamp(sigma / self.gamma, min=1.0)

    def forward(self, weight: Tensor) -> Tensor:
        return weight * self._inv_scale(weight).view(-1, 1, 1)

    def exact(self, weight: Tensor) -> Tensor:
        return weight / torch.clamp(self.exact_sigma(weight) / self.gamma, min=1.0).view(-1, 1, 1)

    def linear(self, h: Tensor, weight: Tensor, bias: Tensor | None) -> Tensor:
        """Scales the ``(K, B, out)`` output instead of the weight (cheaper, same value)."""
        inv = self._inv_scale(weight)
        out = batched_linear(h, weight)
        if bias is None:
            return out * inv.view(-1, 1, 1)
        return torch.addcmul(bias.unsqueeze(1), out, inv.view(-1, 1, 1))


def _batched_shaping(shaping: Shaping, k: int) -> BatchedShaping:
    if isinstance(shaping, SpectralShaping):
        return BatchedSpectralShaping(
            k, shaping.out_features, shaping.gamma, shaping.power_iterations,
            shaping.warmup_iterations,
        )  # fmt: skip
    if isinstance(shaping, ProjectionShaping):
        return BatchedProjection(k, shaping.in_features, shaping.rank)
    if isinstance(shaping, DiagonalShaping):
        return BatchedDiagonal(k, shaping.out_features)
    if isinstance(shaping, IdentityShaping):
        return BatchedIdentity()
    raise TypeError(f"no batched version of shaping {type(shaping).__name__}")


# --------------------------------------------------------------------------- layers
class BatchedAffine(nn.Module):
    """``W_k h + b_k`` (MLP layers and readout); ``weight`` ``(K, out, in)``, ``bias`` ``(K, out)``."""

    def __init__(self, k: int, in_features: int, out_features: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(k, out_features, in_features))
        self.bias = nn.Parameter(torch.zeros(k, out_features))

    def forward(self, h: Tensor) -> Tensor:
        return batched_linear(h, self.weight, self.bias)


class BatchedLinearBlock(nn.Module):
    """``act(W_k h + b_k)`` (the MLP block); state keys as :class:`LinearBlock`."""

    def __init__(self, block: LinearBlock, k: int) -> None:
        super().__init__()
        lin = block.linear
        self.linear = BatchedAffine(k, lin.in_features, lin.out_features)
        self.act = make_activation(block.activation_name)

    def forward(self, h: Tensor) -> Tensor:
        return self.act(self.linear(h))


class BatchedShapedLinear(nn.Module):
    """``S(W_k) h + b_k``; state keys as :class:`ShapedLinear`."""

    def __init__(self, layer: ShapedLinear, k: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(k, layer.out_features, layer.in_features))
        self.bias = nn.Parameter(torch.zeros(k, layer.out_features))
        self.shaping = _batched_shaping(layer.shaping, k)

    def forward(self, h: Tensor) -> Tensor:
        return self.shaping.linear(h, self.weight, self.bias)


class BatchedCorrection(nn.Module):
    """``phi_k(h) = U_k act2(V_k h)``; state keys as :class:`LowRankCorrection`."""

    def __init__(self, corr: LowRankCorrection, k: int) -> None:
        super().__init__()
        self.V = nn.Parameter(torch.zeros(k, *corr.V.shape))
        self.U = nn.Parameter(torch.zeros(k, *corr.U.shape))
        self.act = make_activation(corr.activation_name)

    def add_to(self, z: Tensor, h: Tensor, alpha: float | Tensor) -> Tensor:
        """``z + alpha_k phi_k(h)`` with one ``baddbmm``."""
        a = self.act(batched_linear(h, self.V))
        if isinstance(alpha, Tensor):
            return torch.baddbmm(z, a, (alpha.view(-1, 1, 1) * self.U).transpose(1, 2))
        return torch.baddbmm(z, a, self.U.transpose(1, 2), alpha=alpha)


class BatchedPGNNBlock(nn.Module):
    """``act(S(W_k) h + b_k + alpha_k phi_k(h))``; state keys as :class:`PGNNBlock`."""

    def __init__(self, block: PGNNBlock, k: int) -> None:
        super().__init__()
        self.linear = BatchedShapedLinear(block.linear, k)
        self.act = make_activation(block.activation_name)
        self.correction = (
            BatchedCorrection(block.correction, k) if block.correction is not None else None
        )
        self.alpha: float | nn.Parameter = block.alpha
        if isinstance(block.alpha, nn.Parameter):
            self.alpha = nn.Parameter(torch.zeros(k))

    def forward(self, h: Tensor) -> Tensor:
        z = self.linear(h)
        if self.correction is not None:
            z = self.correction.add_to(z, h, self.alpha)
        return self.act(z)


def _batched_block(block: nn.Module, k: int) -> nn.Module:
    if isinstance(block, PGNNBlock):
        return BatchedPGNNBlock(block, k)
    if isinstance(block, LinearBlock):
        return BatchedLinearBlock(block, k)
    raise TypeError(f"no batched version of block {type(block).__name__}")


def _batched_readout(readout: nn.Module, k: int) -> nn.Module:
    if isinstance(readout, ShapedLinear):
        return BatchedShapedLinear(readout, k)
    if isinstance(readout, nn.Linear):
        return BatchedAffine(k, readout.in_features, readout.out_features)
    raise TypeError(f"no batched version of readout {type(readout).__name__}")


# --------------------------------------------------------------------------- the ensemble
class EnsembleNet(nn.Module):
    """K copies of one :class:`MLP` or :class:`PGNN` as one vectorised network.

    Build it with :meth:`from_copies` (stacks the copies' weights and buffers); ``copy_module(k)``
    returns copy ``k`` as a plain network.
    """

    def __init__(self, template: HiddenNet, k: int) -> None:
        super().__init__()
        if not isinstance(template, (MLP, PGNN)):
            raise TypeError(f"ensembles support MLP and PGNN, not {type(template).__name__}")
        if k < 1:
            raise ValueError(f"ensemble size must be >= 1, got {k}")
        self.k = k
        self.input_dim, self.num_classes = template.input_dim, template.num_classes
        self.blocks = nn.ModuleList(_batched_block(b, k) for b in template.blocks)
        self.readout = _batched_readout(template.readout, k)
        # the plain architecture, kept out of the module tree (no parameters of its own here)
        self._template = (_copy.deepcopy(template).requires_grad_(False),)

    @classmethod
    def from_copies(cls, copies: Sequence[HiddenNet]) -> EnsembleNet:
        """Stack ``copies`` (same architecture, any initialisation) into one ensemble."""
        if not copies:
            raise ValueError("an ensemble needs at least one copy")
        net = cls(copies[0], len(copies))
        states = [c.state_dict() for c in copies]
        net.load_state_dict({key: torch.stack([s[key] for s in states]) for key in states[0]})
        net._sync_warm(copies[0])
        return net.to(next(copies[0].parameters()).device)

    def _sync_warm(self, plain: nn.Module) -> None:
        # load_state_dict marks power-iteration vectors warm; a fresh copy is cold (first forward
        # does warmup_iterations steps), and the two must agree for copy k to equal the plain net
        plain_spec = {n: m for n, m in plain.named_modules() if isinstance(m, SpectralShaping)}
        for name, mod in self.named_modules():
            if isinstance(mod, BatchedSpectralShaping):
                mod._warm = plain_spec[name]._warm

    # -- structure ---------------------------------------------------------------------------
    @property
    def template(self) -> HiddenNet:
        return self._template[0]

    @property
    def layer_names(self) -> list[str]:
        return self.template.layer_names

    @property
    def primary_layer(self) -> str:
        return self.template.primary_layer

    def copy_module(self, k: int, into: HiddenNet | None = None) -> HiddenNet:
        """Copy ``k`` as an ordinary network holding copies of its current weights, on the
        ensemble's device and in its train/eval mode. ``into`` (a network an earlier call
        returned) is refreshed in place instead of building a new one."""
        if not 0 <= k < self.k:
            raise IndexError(f"copy {k} out of range: the ensemble has {self.k} copies")
        plain = into
        if plain is None:
            plain = _copy.deepcopy(self.template).requires_grad_(True)
        ref = next(self.parameters())
        plain = plain.to(device=ref.device, dtype=ref.dtype)
        plain.load_state_dict({key: t[k] for key, t in self.state_dict().items()})
        for name, mod in plain.named_modules():
            if isinstance(mod, SpectralShaping):
                mod._warm = self.get_submodule(name)._warm
        return plain.train(self.training)

    # -- forward -----------------------------------------------------------------------------
    def forward(
        self, x: Tensor, return_hidden: bool = False, per_copy: bool = False
    ) -> Tensor | tuple[Tensor, dict[str, Tensor]]:
        """Logits ``(K, B, C)`` for ``x`` of shape ``(B, ...)`` (shared by all copies) or, with
        ``per_copy``, ``(K, B, ...)`` (copy k reads ``x[k]``); with ``return_hidden`` also
        ``{"h1": (K, B, d1), ...}``. Trailing input dimensions are flattened."""
        return run_blocks(self, x.flatten(2) if per_copy else x.flatten(1), return_hidden)
