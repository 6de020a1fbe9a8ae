"""All-pairs comparison of many representations of the same examples."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np
import torch
from torch import Tensor

from ._checks import as_matrix
from .prepared import Prepared, linear_cka_prepared, prepare

__all__ = ["pairwise"]

Rep = Tensor | np.ndarray


def pairwise(
    metric: str | Callable[..., Tensor | float],
    reps: Mapping[str, Rep] | Sequence[Rep],
    *,
    symmetric: bool = True,
    **params: object,
) -> Tensor | np.ndarray:
    """The m x m matrix ``M[i, j] = metric(reps[i], reps[j], **params)`` of m representations.

    ``metric``: the name of a ``"reps"`` metric of ``METRICS`` (e.g. ``"linear_cka"``) or any
    callable ``f(x, y) -> number``. ``reps``: representations (n, d_i) of the same n examples,
    as a mapping (rows/columns in its order) or a sequence. ``symmetric=True`` (every registered
    reps metric is symmetric) computes each unordered pair once and mirrors it. Linear CKA
    (both estimators) reuses each representation's centring and self-terms
    (:func:`~xmsem.alignment.prepare`), so m representations cost m + m(m-1)/2 cross products.

    Returns a float64 ndarray when any representation is a numpy array, else a float64 tensor on
    the first representation's device. NaN entries keep the metric's own degenerate-input
    convention (warned).
    """
    items = list(reps.values()) if isinstance(reps, Mapping) else list(reps)
    if not items:
        raise ValueError("pairwise: reps must hold at least one representation")
    as_numpy = any(isinstance(r, np.ndarray) for r in items)
    mats = [as_matrix(r, f"reps[{i}]") for i, r in enumerate(items)]
    fn = _resolve(metric, params)
    m = len(mats)
    out = torch.full((m, m), float("nan"), dtype=torch.float64, device=mats[0].device)
    for i in range(m):
        for j in range(i if symmetric else 0, m):
            out[i, j] = float(fn(mats[i], mats[j]))
            if symmetric:
                out[j, i] = out[i, j]
    return out.cpu().numpy() if as_numpy else out


def _resolve(
    metric: str | Callable[..., object], params: dict
) -> Callable[[Tensor, Tensor], object]:
    if callable(metric):
        return lambda x, y: metric(x, y, **params)
    from .registry import get_metric  # local: the registry imports the metric modules

    spec = get_metric(metric)
    if spec.inputs != "reps":
        raise ValueError(
            f"pairwise: metric must name a 'reps' metric (two representations), got {metric!r} "
            f"({spec.inputs})"
        )
    if metric in ("linear_cka", "linear_cka_debiased") and not params:
        which = 0 if metric == "linear_cka" else 1
        cache: dict[int, Prepared] = {}

        def get(x: Tensor) -> Prepared:
            if id(x) not in cache:
                cache[id(x)] = prepare(x)
            return cache[id(x)]

        def prepared(x: Tensor, y: Tensor) -> Tensor:
            return linear_cka_prepared(get(x), get(y))[which]

        return prepared
    return lambda x, y: spec.fn(x, y, **params)
