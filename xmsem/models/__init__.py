"""Networks with named hidden representations: MLP, PGNN, a small CNN, and any nn.Module
wrapped with the names of its hidden-layer modules (:class:`ExtractedNet`).

Every network returns logits, or with ``return_hidden=True`` logits and an ordered dict
``{"h1": ..., "hL": ...}`` of post-activation hidden layers; ``forward_from(layer, h)`` runs the
rest of the network and ``tail_lipschitz(layer)`` bounds that tail's Lipschitz constant.
This package imports nothing else from xmsem.
"""

from .activations import ACTIVATIONS
from .arch import ArchSpec, register_arch
from .base import HiddenNet
from .cnn import CNN
from .correction import LowRankCorrection
from .ensemble import EnsembleNet, batched_linear
from .extract import ExtractedNet, stitch_support
from .factory import (
    ARCHS,
    XMSEM_KEYS,
    build_model,
    count_parameters,
    get_arch,
    input_shape_of,
    layer_widths,
    member_layers,
    stack_copies,
    validate_spec,
)
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
    "ArchSpec",
    "CNN",
    "ExtractedNet",
    "XMSEM_KEYS",
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
    "input_shape_of",
    "get_arch",
    "layer_widths",
    "member_layers",
    "register_arch",
    "stack_copies",
    "stitch_support",
    "validate_spec",
]
