"""Uniformity difference (ReSi, Klabunde et al. 2024, Sec. 3.7; uniformity of Wang & Isola
2020, "Understanding contrastive representation learning through alignment and uniformity on
the hypersphere", ICML):

    u(X) = log( (1/n^2) sum_{i,j} exp(-t ||x_i - x_j||^2) ),      d(X, Y) = |u(X) - u(Y)|,

on the examples projected onto the unit sphere (x_i / ||x_i||), where Wang & Isola define
uniformity; ReSi applies it to the raw vectors, where for hidden layers of any width the
distances are so large that every exp(-t d^2) underflows and u(X) = -log n whatever X is.
``t`` = 2 by default (Wang & Isola; ReSi). In [0, log n]; 0 for X = Y; invariant to orthogonal
maps and isotropic scaling, not to translation or invertible maps. A zero example has no
direction: NaN with a warning. Per representation one number (``prepare``, a log-sum-exp of
n^2 terms: O(n^2 d), capped at ``pairwise_max_n`` examples).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import torch
from torch import Tensor

from .._checks import check_pair, numpy_io
from ..registry import POSITIVE_FLOAT, SYMMETRIC, MetricSpec, register
from ._common import Undefined, guard_one, nan_if_undefined, undefined, unit_rows

__all__ = ["uniformity_diff"]


def uniformity(x: Tensor, params: Mapping[str, Any]) -> Tensor | Undefined:
    raw, x = x, guard_one(x, "uniformity_diff")
    u = None if x is None else unit_rows(x, "uniformity_diff")
    if u is None:
        return undefined(raw)
    d2 = (2.0 - 2.0 * (u @ u.T)).clamp_min(0.0)  # squared distances on the sphere
    n = x.shape[0]
    return torch.logsumexp((-float(params["t"]) * d2).flatten(), 0) - 2.0 * math.log(n)


def gap(a: Tensor | Undefined, b: Tensor | Undefined, params: Mapping[str, Any]) -> Tensor:
    if (nan := nan_if_undefined(a, b)) is not None:
        return nan
    return (a - b).abs()


@numpy_io
def uniformity_diff(x: Tensor, y: Tensor, t: float = 2.0) -> Tensor:
    """|u(X) - u(Y)| with the uniformity u of Wang & Isola (module doc)."""
    x, y = check_pair(x, y)
    p = {"t": t}
    return gap(uniformity(x, p), uniformity(y, p), p).to(x.device)


register(MetricSpec(
    "uniformity_diff", "distance", frozenset({"orthogonal", "isotropic_scale"}), "reps",
    uniformity_diff, "Difference of the sphere uniformity log E exp(-t d^2) (Wang & Isola 2020; ReSi).",
    (0.0, float("inf")), label="uniformity difference", direction=SYMMETRIC,
    options={"t": POSITIVE_FLOAT}, prepare=uniformity, finish=gap, max_n="pairwise_max_n",
))  # fmt: skip
