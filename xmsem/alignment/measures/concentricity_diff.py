"""Concentricity difference (ReSi, Klabunde et al. 2024, Sec. 3.7; Wang et al. 2020): how
tightly the examples point along the mean direction,

    c(X) = (1/n) sum_i cos(x_i, mean_j x_j),      d(X, Y) = |c(X) - c(Y)|     in [0, 2].

0 for X = Y. Invariant to orthogonal maps and isotropic scaling, not to translation or
invertible maps. A mean vector of zero (e.g. centred input) or a zero example leaves a cosine
undefined: NaN with a warning. Per representation one number (``prepare``); O(n d).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import Tensor

from .._checks import check_pair, numpy_io, warn_degenerate
from ..registry import SYMMETRIC, MetricSpec, register
from ._common import Undefined, guard_one, nan_if_undefined, undefined, unit_rows

__all__ = ["concentricity_diff"]


def concentricity(x: Tensor, params: Mapping[str, Any]) -> Tensor | Undefined:
    raw, x = x, guard_one(x, "concentricity_diff")
    if x is None:
        return undefined(raw)
    mean = x.mean(dim=0)
    norm = torch.linalg.vector_norm(mean)
    if not bool(norm > torch.finfo(torch.float64).eps * torch.linalg.vector_norm(x, dim=1).max()):
        warn_degenerate("concentricity_diff", "the mean representation is zero (no direction)")
        return undefined(raw)
    u = unit_rows(x, "concentricity_diff")
    return undefined(raw) if u is None else (u @ (mean / norm)).mean()


def gap(a: Tensor | Undefined, b: Tensor | Undefined, params: Mapping[str, Any]) -> Tensor:
    if (nan := nan_if_undefined(a, b)) is not None:
        return nan
    return (a - b).abs()


@numpy_io
def concentricity_diff(x: Tensor, y: Tensor) -> Tensor:
    """|c(X) - c(Y)| with c the mean cosine to the mean vector (module doc)."""
    x, y = check_pair(x, y)
    return gap(concentricity(x, {}), concentricity(y, {}), {}).to(x.device)


register(MetricSpec(
    "concentricity_diff", "distance", frozenset({"orthogonal", "isotropic_scale"}), "reps",
    concentricity_diff,
    "Difference of mean cosine to the mean vector (ReSi, Klabunde et al. 2024).",
    (0.0, 2.0), label="concentricity difference", direction=SYMMETRIC,
    prepare=concentricity, finish=gap,
))  # fmt: skip
