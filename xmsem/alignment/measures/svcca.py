"""SVCCA (Raghu, Gilmer, Yosinski, Sohl-Dickstein 2017, "SVCCA: Singular Vector Canonical
Correlation Analysis for Deep Learning Dynamics and Interpretability", NeurIPS).

Each centred representation is first reduced to its leading singular directions: the fewest
whose squared singular values hold at least ``keep`` of the variance (0.99, as Raghu et al.),
X' = U_X[:, :r_X] S_X[:r_X]. Then the canonical correlations of X' and Y' (the singular values of
U_X[:, :r_X]^T U_Y[:, :r_Y]) are averaged:

    SVCCA(X, Y) = (1/min(r_X, r_Y)) sum_i rho_i                    in [0, 1], 1 for X = Y.

Invariant to orthogonal maps, isotropic scaling and translation; not to general invertible maps
(they change which directions carry 99 % of the variance). With ``keep = 1`` it is mean CCA.
The truncated basis is each representation's own work (``prepare``); a pair is one small SVD.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from torch import Tensor

from .._checks import centre, check_pair, numpy_io
from ..registry import SYMMETRIC, UNIT_INTERVAL, MetricSpec, register
from ._common import Undefined, canonical, column_basis, guard_one, nan_if_undefined, undefined

__all__ = ["svcca"]


def reduced_basis(x: Tensor, params: Mapping[str, Any]) -> Tensor | Undefined:
    """Orthonormal basis of the leading singular directions holding ``keep`` of the variance."""
    v = guard_one(x, "svcca")
    return undefined(x) if v is None else column_basis(centre(v), float(params["keep"]))


def mean_rho(a: Tensor | Undefined, b: Tensor | Undefined, params: Mapping[str, Any]) -> Tensor:
    if (nan := nan_if_undefined(a, b)) is not None:
        return nan
    return canonical(a, b)[0].mean()


@numpy_io
def svcca(x: Tensor, y: Tensor, keep: float = 0.99) -> Tensor:
    """SVCCA of ``x`` (n, p) and ``y`` (n, q), ``keep`` of the variance kept (module doc)."""
    x, y = check_pair(x, y)
    p = {"keep": keep}
    return mean_rho(reduced_basis(x, p), reduced_basis(y, p), p).to(x.device)


register(MetricSpec(
    "svcca", "similarity", frozenset({"orthogonal", "isotropic_scale", "translation"}), "reps",
    svcca, "Mean canonical correlation of the 99%-variance SVD reductions (Raghu et al. 2017).",
    label="SVCCA", direction=SYMMETRIC, options={"keep": UNIT_INTERVAL},
    prepare=reduced_basis, finish=mean_rho,
))  # fmt: skip
