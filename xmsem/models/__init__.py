"""Networks with named hidden representations: MLP, PGNN, a small CNN, and any nn.Module
wrapped with the names of its hidden-layer modules (:class:`ExtractedNet`).

Every network returns logits, or with ``return_hidden=True`` logits and an ordered dict
``{"h1": ..., "hL": ...}`` of post-activation hidden layers; ``forward_from(layer, h)`` runs the
rest of the network and ``tail_lipschitz(layer)`` bounds that tail's Lipschitz constant.
This package imports nothing else from xmsem.

Importing it imports no torch: the arch specs, spec validation and layer names (what config
validation reads) are torch-free; the network classes are imported on first use (PEP 562).
"""

from typing import Any

from .activations import ACTIVATIONS
from .arch import ArchSpec, register_arch
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

# the names that need torch, and the module that defines each
_LAZY = {
    "HiddenNet": "base",
    "CNN": "cnn",
    "LowRankCorrection": "correction",
    "EnsembleNet": "ensemble",
    "batched_linear": "ensemble",
    "ExtractedNet": "extract",
    "stitch_support": "extract",
    "MLP": "mlp",
    "PGNN": "pgnn",
    "PGNNBlock": "pgnn",
    "ShapedLinear": "pgnn",
    "SHAPINGS": "shaping",
    "DiagonalShaping": "shaping",
    "IdentityShaping": "shaping",
    "ProjectionShaping": "shaping",
    "Shaping": "shaping",
    "SpectralShaping": "shaping",
    "build_shaping": "shaping",
}


def __getattr__(name: str) -> Any:
    """The network classes on first use: validating a config reads the specs without torch."""
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


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
