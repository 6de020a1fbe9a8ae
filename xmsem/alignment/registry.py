"""Registry of alignment metrics: each by name, with its kind and claimed invariances.

``inputs`` says how a metric is called:

* ``"reps"``: ``fn(x, y, **params) -> 0-d float64 tensor`` on two (n, p), (n, q) representations;
* ``"probe"``: :func:`probe_transfer` (fit/eval splits of two members plus labels);
* ``"stitch"``: :func:`linear_stitch` (fit/eval splits plus B's tail as a callable);
* ``"spectral"``: :func:`spectral_alignment` (inputs plus two representations).

``invariances`` is a subset of ``INVARIANCES``: the metric's value is unchanged when either
representation is transformed by an orthogonal map (x -> x Q), an isotropic scaling
(x -> c x, c > 0), a translation (x -> x + t) or any invertible linear map (x -> x A). For
"reps" metrics the test-suite checks each claim both ways: invariant where claimed, changed by
a generic transformation where not. For the other kinds the flags describe the default
configuration and refer to transforming the *source* member (B for probe transfer with the
orthogonal map, A for stitching).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from torch import Tensor

from .cka import linear_cka, rbf_cka
from .probe import probe_transfer
from .spectral import spectral_alignment
from .stitch import linear_stitch
from .subspace import cca_r2, procrustes_distance, subspace_overlap

__all__ = ["INVARIANCES", "MetricSpec", "METRICS", "get_metric"]

INVARIANCES = frozenset({"orthogonal", "isotropic_scale", "translation", "invertible_linear"})
_KINDS = ("similarity", "distance")
_INPUTS = ("reps", "probe", "stitch", "spectral")


@dataclass(frozen=True)
class MetricSpec:
    """One registered metric. ``bounds``: the value range (debiased CKA can be negative)."""

    name: str
    kind: str
    invariances: frozenset[str]
    inputs: str
    fn: Callable[..., Any]
    doc: str
    bounds: tuple[float, float] = field(default=(0.0, 1.0))

    def __post_init__(self) -> None:
        if self.kind not in _KINDS:
            raise ValueError(f"kind must be one of {_KINDS}, got {self.kind!r}")
        if self.inputs not in _INPUTS:
            raise ValueError(f"inputs must be one of {_INPUTS}, got {self.inputs!r}")
        if not self.invariances <= INVARIANCES:
            bad = sorted(self.invariances - INVARIANCES)
            raise ValueError(f"unknown invariances {bad}; valid: {sorted(INVARIANCES)}")


def subspace_overlap_value(x: Tensor, y: Tensor, k: int = 10) -> Tensor:
    """Mean cos^2 of the principal angles of :func:`subspace_overlap` (top-k subspaces)."""
    return subspace_overlap(x, y, k).mean_cos2


_SIM = frozenset({"orthogonal", "isotropic_scale", "translation"})

METRICS: dict[str, MetricSpec] = {
    s.name: s
    for s in (
        MetricSpec(
            "linear_cka",
            "similarity",
            _SIM,
            "reps",
            linear_cka,
            "Linear CKA, biased HSIC (Kornblith et al. 2019).",
        ),
        MetricSpec(
            "linear_cka_debiased",
            "similarity",
            _SIM,
            "reps",
            partial(linear_cka, debiased=True),
            "Linear CKA with unbiased HSIC (Song et al. 2012); range [-1, 1].",
            (-1.0, 1.0),
        ),
        MetricSpec(
            "rbf_cka",
            "similarity",
            _SIM,
            "reps",
            rbf_cka,
            "RBF CKA, sigma = threshold * sqrt(median sq. distance) (Kornblith 2019).",
        ),
        MetricSpec(
            "rbf_cka_debiased",
            "similarity",
            _SIM,
            "reps",
            partial(rbf_cka, debiased=True),
            "RBF CKA with unbiased HSIC (Song et al. 2012); range [-1, 1].",
            (-1.0, 1.0),
        ),
        MetricSpec(
            "subspace_overlap",
            "similarity",
            _SIM,
            "reps",
            subspace_overlap_value,
            "Mean cos^2 of principal angles between top-k left singular subspaces.",
        ),
        MetricSpec(
            "cca_r2",
            "similarity",
            INVARIANCES,
            "reps",
            cca_r2,
            "Mean squared canonical correlation R^2_CCA (Yanai 1974).",
        ),
        MetricSpec(
            "procrustes",
            "distance",
            _SIM,
            "reps",
            procrustes_distance,
            "Orthogonal Procrustes distance on normalised reps (Ding et al. 2021).",
            (0.0, 2.0),
        ),
        MetricSpec(
            "probe_transfer",
            "similarity",
            frozenset({"orthogonal", "translation"}),
            "probe",
            probe_transfer,
            "A's linear probe on Procrustes-mapped B: transfer / self accuracy.",
            (0.0, float("inf")),
        ),
        MetricSpec(
            "stitching",
            "similarity",
            INVARIANCES,
            "stitch",
            linear_stitch,
            "Least-squares stitch of A into B's tail (Insulla et al. 2025).",
        ),
        MetricSpec(
            "spectral",
            "similarity",
            _SIM,
            "spectral",
            spectral_alignment,
            "Alignment per kNN-Laplacian / PCA frequency band.",
        ),
    )
}


def get_metric(name: str) -> MetricSpec:
    """The registered metric called ``name``; ValueError listing the valid names otherwise."""
    try:
        return METRICS[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown metric {name!r}; valid: {sorted(METRICS)}") from None
