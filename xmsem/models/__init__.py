"""Networks with named hidden representations: the plain MLP and the PGNN.

Every network returns logits, or with ``return_hidden=True`` logits and an ordered dict
``{"h1": ..., "hL": ...}`` of post-activation hidden layers; ``forward_from(layer, h)`` runs the
rest of the network and ``tail_lipschitz(layer)`` bounds that tail's Lipschitz constant.
This package imports nothing else from xmsem.
"""

from .activations import ACTIVATIONS
from .base import HiddenNet
from .correction import LowRankCorrection
from .ensemble import EnsembleNet, batched_linear
from .factory import ARCHS, build_model, count_parameters, validate_spec
from .mlp import MLP
from .pgnn import PGNN, PGNNBlock, ShapedLinear
from .shaping import (
    SHAPINGS,
    DiagonalShaping,
    IdentityShaping,
    ProjectionShaping,
    Shaping,
    SpectralShaping,
    build_shaping,
)

__all__ = [
    "ACTIVATIONS",
    "ARCHS",
    "MLP",
    "PGNN",
    "SHAPINGS",
    "DiagonalShaping",
    "EnsembleNet",
    "HiddenNet",
    "IdentityShaping",
    "LowRankCorrection",
    "PGNNBlock",
    "ProjectionShaping",
    "ShapedLinear",
    "Shaping",
    "SpectralShaping",
    "batched_linear",
    "build_model",
    "build_shaping",
    "count_parameters",
    "validate_spec",
]
