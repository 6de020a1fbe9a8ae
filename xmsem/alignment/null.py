"""Permutation null of an alignment metric: its chance value at this n and these widths.

For two representations x (n, p), y (n, q) of the same n examples, shuffling the rows of y breaks
the example-to-example correspondence while keeping everything else of both sides (each one's
spectrum, width, scale, marginal distribution). The metric on (x, y[pi]) over random
permutations pi is the distribution of the metric when the two are unrelated; its mean is the
chance level at this n and width, which is far from 0 for biased CKA when n is not much larger
than the widths (E[CKA] grows like ~p q / n ... 1 for n <= p). A permutation p-value is
``(1 + #{null >= observed}) / (1 + n_perm)`` for a similarity (``<=`` for a distance; Phipson &
Smyth 2010: never 0, exact under exchangeability).

Linear CKA (both estimators) and subspace overlap are served from prepared representations: the
centring, self-terms and singular basis of y are permutation invariant (permuted along with the
rows), so each permutation costs one cross product O(n p q).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch import Tensor

from ._checks import as_matrix, check_pair
from ._permutation import PermutationNull, permutations, summarise
from .prepared import Prepared, linear_cka_prepared, prepare, subspace_overlap_prepared

__all__ = ["PermutationNull", "permutation_null"]

_PREPARED = ("linear_cka", "linear_cka_debiased", "subspace_overlap")


def permutation_null(
    metric: str | Callable[..., Tensor | float],
    x: Tensor | np.ndarray,
    y: Tensor | np.ndarray,
    *,
    n_perm: int = 100,
    seed: int = 0,
    higher_is_similar: bool | None = None,
    **params: object,
) -> PermutationNull:
    """Permutation null of ``metric(x, y)``: the metric on ``(x, y[pi])`` for ``n_perm`` random row
    permutations pi of y (module doc), next to the observed value.

    ``metric``: a ``"reps"`` metric name of ``METRICS`` (``linear_cka``, ``linear_cka_debiased``,
    ``subspace_overlap`` (param ``k``, default 10), ``rbf_cka``, ``cca_r2``, ``procrustes``, ...)
    or a callable ``f(x, y, **params) -> number``. ``seed`` fixes the permutations (a CPU
    generator: the same permutations on every device). ``higher_is_similar``: the direction of
    the p-value; from the registry's ``kind`` for a name (distances: lower is similar), True for
    a callable unless given.

    This is the helper that runs and analyses call for the permutation-null control of CKA,
    subspace overlap and spectral bands.
    """
    if isinstance(n_perm, bool) or not isinstance(n_perm, int) or n_perm < 1:
        raise ValueError(f"n_perm must be an int >= 1, got {n_perm!r}")
    x, y = check_pair(as_matrix(x, "x"), as_matrix(y, "y"), min_n=2)
    n = x.shape[0]
    perms = permutations(n, n_perm, seed, x.device)
    name = metric if isinstance(metric, str) else None
    if name is not None:
        from .registry import get_metric  # local: the registry imports the metric modules

        spec = get_metric(name)
        if spec.inputs != "reps":
            raise ValueError(
                f"permutation_null: metric must name a 'reps' metric, got {name!r} ({spec.inputs})"
            )
        if higher_is_similar is None:
            higher_is_similar = spec.kind == "similarity"
    higher = True if higher_is_similar is None else bool(higher_is_similar)

    if name in _PREPARED and set(params) <= {"k"}:
        observed, values = _prepared_null(name, x, y, perms, int(params.get("k", 10)))
    else:
        fn = _callable(metric, params)
        observed = float(fn(x, y))
        values = [float(fn(x, y[p])) for p in perms]
    null = torch.tensor(values, dtype=torch.float64, device=x.device)
    return summarise(observed, null, higher)


def _callable(
    metric: str | Callable[..., object], params: dict
) -> Callable[[Tensor, Tensor], object]:
    if callable(metric):
        return lambda a, b: metric(a, b, **params)
    from .registry import get_metric

    fn = get_metric(metric).fn
    return lambda a, b: fn(a, b, **params)


def _permuted(p: Prepared, perm: Tensor, k: int | None) -> Prepared:
    """``p`` for the same rows in the order ``perm`` (self-terms unchanged)."""
    out = p.permuted(perm)
    if k is not None:
        basis = p.basis(k)
        out._bases[k] = None if basis is None else basis[perm]
    return out


def _prepared_null(
    name: str, x: Tensor, y: Tensor, perms: list[Tensor], k: int
) -> tuple[float, list[float]]:
    px, py = prepare(x), prepare(y)

    def value(b: Prepared) -> float:
        if name == "subspace_overlap":
            return float(subspace_overlap_prepared(px, b, k))
        return float(linear_cka_prepared(px, b)[int(name == "linear_cka_debiased")])

    basis_k = k if name == "subspace_overlap" else None
    if basis_k is not None and not 1 <= k <= min(x.shape[0] - 1, x.shape[1], y.shape[1]):
        raise ValueError(f"k must be in [1, min(n-1, p, q)], got {k}")
    return value(py), [value(_permuted(py, p, basis_k)) for p in perms]
