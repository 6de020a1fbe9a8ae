"""Linear stitching (Insulla, Huang, Rosasco 2025, "Towards a learning theory of representation
alignment", arXiv 2502.14047; stitching after Lenc & Vedaldi 2015, Bansal et al. 2021).

A map ``S(a) = a W + c`` from member A's layer into member B's layer is fitted by least squares
on the fit split (``maps.fit_affine``; optional ridge), then B's remaining layers ``tail_b``
turn ``S(a)`` into logits. With ``normalize`` (:mod:`~xmsem.alignment.normalize`) the map is
fitted between the two layers normalised with their fit-split statistics and used in raw
coordinates, ``S = N_B^{-1} o S' o N_A`` (B's tail reads raw features); without a ridge the
least-squares stitch is the same for every choice (affine re-parametrisations of either side).
Reported on the eval split:

* ``stitched_acc`` / ``stitched_loss``: accuracy and mean cross-entropy of ``tail_b(S(a))``;
* ``own_acc`` / ``own_loss``: the same for ``tail_b(b)`` (needs ``b_eval``);
* ``gap = (1/n) sum_i ||S(a_i) - b_i||_2^2`` (needs ``b_eval``); ``fit_gap`` on the fit split;
* ``logit_change = (1/n) sum_i ||tail_b(S(a_i)) - tail_b(b_i)||_2`` (measured);
* ``lipschitz``: L, a Lipschitz constant of ``tail_b`` in the l2 norm, as given (e.g.
  :func:`lipschitz_bound`, the product of the spectral norms of the tail's weight matrices,
  valid when its activations are 1-Lipschitz);
* ``bound = L * (1/n) sum_i ||S(a_i) - b_i||_2 <= L sqrt(gap)`` (Jensen), which bounds
  ``logit_change`` since ``||tail(u) - tail(v)|| <= L ||u - v||`` per example; and
  ``loss_bound = sqrt(2) * bound``, which bounds ``|stitched_loss - own_loss|`` because
  cross-entropy is sqrt(2)-Lipschitz in the logits (its gradient softmax - onehot has l2 norm
  <= sqrt(2)).
Fields that need ``b_eval`` or L are None without them.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import torch
from torch import Tensor

from ._checks import all_finite, as_matrix
from .maps import AffineMap, fit_affine, in_raw_coordinates
from .normalize import check_normalize, fit_normalizer
from .probe import _labels

__all__ = ["Stitch", "linear_stitch", "lipschitz_bound"]


@dataclass(frozen=True)
class Stitch:
    """Result of :func:`linear_stitch` (python floats; see the module doc for each field)."""

    stitched_acc: float
    stitched_loss: float
    own_acc: float | None
    own_loss: float | None
    gap: float | None
    fit_gap: float
    logit_change: float | None
    lipschitz: float | None
    bound: float | None
    loss_bound: float | None
    map: AffineMap


def lipschitz_bound(weights: Iterable[Tensor]) -> float:
    """Product of spectral norms ``prod_l ||W_l||_2``: an l2 Lipschitz constant of
    ``x -> W_k act(... act(W_1 x + b_1) ...) + b_k`` when every activation is 1-Lipschitz
    (ReLU, tanh, GELU is not: its constant is ~1.13)."""
    out = 1.0
    for w in weights:
        out *= float(torch.linalg.matrix_norm(w.detach().to(torch.float64), ord=2))
    return out


def _scores(logits: Tensor, y: Tensor) -> tuple[float, float]:
    logits = logits.to(torch.float64)
    y = y.to(logits.device)
    acc = float((logits.argmax(dim=1) == y).double().mean())
    loss = float(torch.nn.functional.cross_entropy(logits, y))
    return acc, loss


def _checked_inputs(
    a_fit: Tensor, b_fit: Tensor, a_eval: Tensor, y_eval: Tensor, b_eval: Tensor | None,
    tail_lipschitz: float | None,
) -> tuple[Tensor, Tensor, Tensor, Tensor | None, Tensor]:  # fmt: skip
    """The inputs of :func:`linear_stitch` as float64 matrices (and labels), or a one-line
    ValueError for mismatched rows or widths or non-finite values."""
    a_fit_, b_fit_ = as_matrix(a_fit, "a_fit"), as_matrix(b_fit, "b_fit")
    a_eval_ = as_matrix(a_eval, "a_eval")
    if a_fit_.shape[0] != b_fit_.shape[0]:
        raise ValueError(
            f"a_fit and b_fit must hold the same examples: {a_fit_.shape[0]} != "
            f"{b_fit_.shape[0]} rows"
        )
    if a_eval_.shape[1] != a_fit_.shape[1]:
        raise ValueError(
            f"a_eval must have a_fit's width {a_fit_.shape[1]}, got {a_eval_.shape[1]}"
        )
    y_eval = _labels(y_eval, a_eval_.shape[0], "y_eval")
    tensors = [a_fit_, b_fit_, a_eval_]
    b_eval_ = None
    if b_eval is not None:
        b_eval_ = as_matrix(b_eval, "b_eval")
        if b_eval_.shape != (a_eval_.shape[0], b_fit_.shape[1]):
            raise ValueError(
                f"b_eval must have shape ({a_eval_.shape[0]}, {b_fit_.shape[1]}), "
                f"got {tuple(b_eval_.shape)}"
            )
        tensors.append(b_eval_)
    if not all_finite(*tensors):
        raise ValueError("linear_stitch inputs contain NaN or inf")
    if tail_lipschitz is not None and not (0.0 <= float(tail_lipschitz) < math.inf):
        raise ValueError(f"tail_lipschitz must be a finite number >= 0, got {tail_lipschitz!r}")
    return a_fit_, b_fit_, a_eval_, b_eval_, y_eval


def linear_stitch(
    a_fit: Tensor,
    b_fit: Tensor,
    a_eval: Tensor,
    y_eval: Tensor,
    tail_b: Callable[[Tensor], Tensor],
    *,
    b_eval: Tensor | None = None,
    tail_lipschitz: float | None = None,
    ridge: float = 0.0,
    normalize: str = "none",
    stitch_map: AffineMap | None = None,
) -> Stitch:
    """Stitch A's layer into B's tail with a least-squares affine map (module doc).

    ``stitch_map``: that map, in raw coordinates, when already fitted on these fit halves with
    this ``normalize`` and ``ridge`` (e.g. probe transfer's least-squares map A -> B).

    ``tail_b`` maps B's layer representations (n, q) to logits (n, C); it is called under
    ``torch.no_grad()`` on inputs cast to ``b_fit``'s dtype and device. ``y_eval`` holds class
    labels for the eval rows. Raises ValueError on mismatched rows or widths, or non-finite
    input.
    """
    out_dtype = b_fit.dtype if b_fit.is_floating_point() else torch.float32
    out_device = b_fit.device
    a_fit_, b_fit_, a_eval_, b_eval_, y_eval = _checked_inputs(
        a_fit, b_fit, a_eval, y_eval, b_eval, tail_lipschitz
    )

    s = stitch_map
    if s is None:
        n_a = fit_normalizer(a_fit_, check_normalize(normalize))
        n_b = fit_normalizer(b_fit_, normalize)
        s = in_raw_coordinates(fit_affine(n_a(a_fit_), n_b(b_fit_), ridge=ridge), n_a, n_b)
    fit_gap = float(((s(a_fit_) - b_fit_) ** 2).sum(dim=1).mean())
    sa = s(a_eval_)

    def run_tail(v: Tensor) -> Tensor:
        with torch.no_grad():
            return tail_b(v.to(device=out_device, dtype=out_dtype))

    z_st = run_tail(sa)
    stitched_acc, stitched_loss = _scores(z_st, y_eval)
    own_acc = own_loss = gap = logit_change = bound = loss_bound = None
    lip = None if tail_lipschitz is None else float(tail_lipschitz)
    if b_eval_ is not None:
        z_own = run_tail(b_eval_)
        own_acc, own_loss = _scores(z_own, y_eval)
        dist = torch.linalg.vector_norm(sa - b_eval_, dim=1)
        gap = float((dist**2).mean())
        dz = z_st.to(torch.float64) - z_own.to(torch.float64)
        logit_change = float(torch.linalg.vector_norm(dz, dim=1).mean())
        if lip is not None:
            bound = lip * float(dist.mean())
            loss_bound = math.sqrt(2.0) * bound
    return Stitch(
        stitched_acc,
        stitched_loss,
        own_acc,
        own_loss,
        gap,
        fit_gap,
        logit_change,
        lip,
        bound,
        loss_bound,
        s,
    )
