"""Activation functions by name, with their Lipschitz constants.

The Lipschitz constants feed :meth:`tail_lipschitz` bounds. ReLU and tanh are 1-Lipschitz; GELU is
not: its derivative ``Phi(x) + x phi(x)`` peaks at ``x = sqrt(2)`` with value
``(1 + erf(1)) / 2 + exp(-1) / sqrt(pi) ~= 1.1289``, so that value is used.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from torch import nn

__all__ = ["ACTIVATIONS", "activation_lipschitz", "check_activation", "make_activation"]

# name -> its torch.nn class, by class name: this module imports no torch, so a bad activation in a
# member spec stops a run before torch is imported
ACTIVATIONS: dict[str, str] = {"relu": "ReLU", "gelu": "GELU", "tanh": "Tanh"}

_LIPSCHITZ: dict[str, float] = {
    "relu": 1.0,
    "gelu": 0.5 * (1.0 + math.erf(1.0)) + math.exp(-1.0) / math.sqrt(math.pi),
    "tanh": 1.0,
}


def check_activation(name: object, key: str = "activation") -> str:
    """Return ``name`` if it names a known activation, else raise ValueError naming ``key``."""
    if not isinstance(name, str) or name not in ACTIVATIONS:
        valid = ", ".join(sorted(ACTIVATIONS))
        raise ValueError(f"model spec key '{key}': unknown activation {name!r}; valid: {valid}")
    return name


def make_activation(name: str, key: str = "activation") -> nn.Module:
    """Build the activation module called ``name`` (one of :data:`ACTIVATIONS`)."""
    from torch import nn

    return getattr(nn, ACTIVATIONS[check_activation(name, key)])()


def activation_lipschitz(name: str) -> float:
    """Lipschitz constant of the activation called ``name``."""
    return _LIPSCHITZ[check_activation(name)]
