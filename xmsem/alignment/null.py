"""Permutation null of an alignment metric: its chance value at this n and these widths.

For two representations x (n, p), y (n, q) of the same n examples, shuffling the rows of y breaks
the example-to-example correspondence while keeping everything else of both sides (each one's
spectrum, width, scale, marginal distribution). The metric on (x, y[pi]) over random
permutations pi is the distribution of the metric when the two are unrelated; its mean is the
chance level at this n and width, which is far from 0 for biased CKA when n is not much larger
than the widths (E[CKA] grows like ~p q / n ... 1 for n <= p). A permutation p-value is
``(1 + #{null >= observed}) / (1 + n_perm)`` for a similarity (``<=`` for a distance; Phipson &
Smyth 2010: never 0, exact under exchangeability).

Metrics with a ``prepared`` fast path in the registry (linear CKA, both estimators, and subspace
overlap) are served from prepared representations: the centring, self-terms and singular bases
of y are permutation invariant (permuted along with the rows), so each permutation costs one
cross product O(n p q).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch import Tensor

from ._checks import as_matrix, check_pair
from ._permutation import PermutationNull, permutations, summarise
from .prepared import Prepared, prepare

__all__ = ["PermutationNull", "permutation_null"]


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
    spec = None
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

    if (
        spec is not None
        and spec.prepared is not None
        and set(params) <= {*spec.params, *spec.options}
    ):
        kwargs = {**_fn_defaults(spec.fn), **params}
        observed, values = _prepared_null(spec, x, y, perms, kwargs)
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


def _fn_defaults(fn: Callable[..., object]) -> dict[str, object]:
    """The keyword defaults of a metric function (the parameters its fast path reads)."""
    import inspect

    return {n: p.default for n, p in inspect.signature(fn).parameters.items()
            if p.default is not inspect.Parameter.empty}  # fmt: skip


def _permuted(p: Prepared, perm: Tensor) -> Prepared:
    """``p`` for the same rows in the order ``perm`` (self-terms unchanged, the singular bases
    computed so far permuted along)."""
    out = Prepared(p.xc[perm], p.gram, p.hsic, p.row_sq[perm], p.degenerate)
    for k, basis in p._bases.items():
        out._bases[k] = None if basis is None else basis[perm]
    return out


def _prepared_null(
    spec: object, x: Tensor, y: Tensor, perms: list[Tensor], params: dict
) -> tuple[float, list[float]]:
    """Observed value and null from the metric's ``prepared`` fast path; the observed value is
    computed first, so whatever it derives from y (e.g. its top-k basis) is permuted, not redone."""
    k = params.get("k")
    if k is not None and not 1 <= k <= min(x.shape[0] - 1, x.shape[1], y.shape[1]):
        raise ValueError(f"k must be in [1, min(n-1, p, q)], got {k}")
    px, py = prepare(x), prepare(y)

    def value(b: Prepared) -> float:
        return float(spec.prepared(px, b, params, {}))

    observed = value(py)
    return observed, [value(_permuted(py, p)) for p in perms]
