"""Representational similarity analysis (Kriegeskorte, Mur, Bandettini 2008, "Representational
similarity analysis - connecting the branches of systems neuroscience", Front. Syst. Neurosci.).

The representational dissimilarity matrix of X holds d(x_i, x_j) for every pair i < j; RSA is
the correlation of the two RDMs' upper triangles:

    RSA(X, Y) = corr(vec_{i<j} D_X, vec_{i<j} D_Y),

with ``method`` = ``pearson`` or ``spearman`` (Pearson of the ranks, ties at their average rank,
as ``scipy.stats.spearmanr``), and ``distance`` = ``euclidean`` (default), ``cosine``
(1 - cosine similarity) or ``correlation`` (1 - Pearson correlation of two examples' feature
vectors, the classic choice in neuroscience and ReSi's default). In [-1, 1], 1 for X = Y.
With the Euclidean distance invariant to orthogonal maps, isotropic scaling and translation, not
to invertible maps (cosine: orthogonal and scale; correlation: scale only). The per-
representation part (the RDM, ranked and standardised) is prepared once; a pair is one dot
product of n(n-1)/2 entries. O(n^2 d) per representation (capped at ``pairwise_max_n``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import Tensor

from .._checks import check_pair, clamp_rounding, numpy_io, warn_degenerate
from ..registry import SYMMETRIC, MetricSpec, choice, register
from ._common import (
    Undefined,
    cosine_matrix,
    distance_matrix,
    guard_one,
    nan_if_undefined,
    rank_average,
    undefined,
)

__all__ = ["rsa", "rdm"]

DISTANCES = ("euclidean", "cosine", "correlation")
METHODS = ("spearman", "pearson")


def rdm(x: Tensor, distance: str = "euclidean") -> Tensor | None:
    """Upper triangle (i < j, row-major) of the RDM of ``x`` (None, warned, when undefined)."""
    if distance == "euclidean":
        d = distance_matrix(x)
    else:
        if distance == "correlation":  # 1 - Pearson over features = cosine of row-centred rows
            x = x - x.mean(dim=1, keepdim=True)
        sim = cosine_matrix(x, "rsa")
        if sim is None:
            return None
        d = 1.0 - sim
    i, j = torch.triu_indices(d.shape[0], d.shape[0], offset=1, device=d.device)
    return d[i, j]


def standardised_rdm(x: Tensor, params: Mapping[str, Any]) -> Tensor | Undefined:
    """The RDM entries, ranked for Spearman, centred and scaled to unit norm."""
    g = guard_one(x, "rsa")
    v = None if g is None else rdm(g, params["distance"])
    if v is None:
        return undefined(x)
    if params["method"] == "spearman":
        v = rank_average(v)
    v = v - v.mean()
    norm = torch.linalg.vector_norm(v)
    if not bool(norm > 0):
        warn_degenerate("rsa", "all pairwise dissimilarities are equal")
        return undefined(x)
    return v / norm


def correlation(a: Tensor | Undefined, b: Tensor | Undefined, params: Mapping[str, Any]) -> Tensor:
    if (nan := nan_if_undefined(a, b)) is not None:
        return nan
    return clamp_rounding(a @ b, -1.0, 1.0, "rsa")


@numpy_io
def rsa(x: Tensor, y: Tensor, distance: str = "euclidean", method: str = "spearman") -> Tensor:
    """RSA of ``x`` (n, p) and ``y`` (n, q) (module doc); n >= 3."""
    if distance not in DISTANCES or method not in METHODS:
        raise ValueError(f"rsa: distance in {DISTANCES}, method in {METHODS}; "
                         f"got {distance!r}, {method!r}")  # fmt: skip
    x, y = check_pair(x, y, min_n=3)
    p = {"distance": distance, "method": method}
    return correlation(standardised_rdm(x, p), standardised_rdm(y, p), p).to(x.device)


register(MetricSpec(
    "rsa", "similarity", frozenset({"orthogonal", "isotropic_scale", "translation"}), "reps", rsa,
    "Correlation of the two representational dissimilarity matrices (Kriegeskorte et al. 2008).",
    (-1.0, 1.0), label="RSA", direction=SYMMETRIC,
    options={"distance": choice(*DISTANCES), "method": choice(*METHODS)},
    prepare=standardised_rdm, finish=correlation, max_n="pairwise_max_n",
))  # fmt: skip
