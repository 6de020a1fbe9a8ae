"""Magnitude difference (ReSi, Klabunde et al. 2024, Sec. 3.7; Wang et al. 2020): how far the
two representations' mean vectors are from the origin,

    d(X, Y) = | ||mean_i x_i||_2 - ||mean_i y_i||_2 |              >= 0, 0 for X = Y.

A statistic of each representation alone (``prepare``: one number). A constant representation
(all examples identical) gives NaN with a warning, as for every metric here. Invariant to
orthogonal maps only (not to scaling, translation or invertible maps). O(n d).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import Tensor

from .._checks import check_pair, numpy_io
from ..registry import SYMMETRIC, MetricSpec, register
from ._common import Undefined, guard_one, nan_if_undefined, undefined

__all__ = ["magnitude_diff"]


def magnitude(x: Tensor, params: Mapping[str, Any]) -> Tensor | Undefined:
    v = guard_one(x, "magnitude_diff")
    return undefined(x) if v is None else torch.linalg.vector_norm(v.mean(dim=0))


def gap(a: Tensor | Undefined, b: Tensor | Undefined, params: Mapping[str, Any]) -> Tensor:
    if (nan := nan_if_undefined(a, b)) is not None:
        return nan
    return (a - b).abs()


@numpy_io
def magnitude_diff(x: Tensor, y: Tensor) -> Tensor:
    """| ||mean x|| - ||mean y|| | (module doc)."""
    x, y = check_pair(x, y)
    return gap(magnitude(x, {}), magnitude(y, {}), {}).to(x.device)


register(MetricSpec(
    "magnitude_diff", "distance", frozenset({"orthogonal"}), "reps", magnitude_diff,
    "Difference of the norms of the mean representations (ReSi, Klabunde et al. 2024).",
    (0.0, float("inf")), label="magnitude difference", direction=SYMMETRIC,
    prepare=magnitude, finish=gap,
))  # fmt: skip
