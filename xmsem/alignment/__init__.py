"""Metric math of xmsem: how two representations of the same examples line up.

Pure torch (float64 internally, any device), no Lightning, no Hydra. Each function's docstring
gives its formula and reference. Degenerate input conventions live in ``_checks``.
"""

from . import measures  # noqa: F401  (each measure module registers itself)
from ._checks import DegenerateInputWarning
from .cka import hsic_unbiased, linear_cka, rbf_cka
from .composite import PairContext
from .latent import latent_r2
from .maps import AffineMap, fit_map, fit_map_both
from .null import PermutationNull, permutation_null
from .pairwise import pairwise
from .prepared import Prepared, cross_frob2, linear_cka_prepared, prepare, subspace_overlap_prepared
from .probe import LinearProbe, ProbeTransfer, fit_probe, probe_transfer
from .registry import (
    INVARIANCES,
    METRICS,
    QUANTITIES,
    MetricSpec,
    Option,
    Quantity,
    check_metric_params,
    configured,
    default_metrics,
    get_metric,
    headline_metrics,
    order,
    quantity,
)
from .spectral import knn_graph_laplacian_eigs, spectral_alignment
from .stitch import Stitch, linear_stitch, lipschitz_bound
from .streaming import MinibatchCKA, StreamingLinearCKA
from .subspace import SubspaceOverlap, cca_r2, procrustes_distance, subspace_overlap

__all__ = [
    "Prepared",
    "cross_frob2",
    "latent_r2",
    "linear_cka_prepared",
    "prepare",
    "subspace_overlap_prepared",
    "AffineMap",
    "DegenerateInputWarning",
    "INVARIANCES",
    "LinearProbe",
    "METRICS",
    "QUANTITIES",
    "Quantity",
    "order",
    "quantity",
    "MetricSpec",
    "PairContext",
    "Option",
    "check_metric_params",
    "headline_metrics",
    "configured",
    "default_metrics",
    "MinibatchCKA",
    "ProbeTransfer",
    "Stitch",
    "StreamingLinearCKA",
    "SubspaceOverlap",
    "cca_r2",
    "fit_map",
    "fit_map_both",
    "fit_probe",
    "get_metric",
    "hsic_unbiased",
    "knn_graph_laplacian_eigs",
    "linear_cka",
    "linear_stitch",
    "lipschitz_bound",
    "pairwise",
    "PermutationNull",
    "permutation_null",
    "probe_transfer",
    "procrustes_distance",
    "rbf_cka",
    "spectral_alignment",
    "subspace_overlap",
]
