"""Build networks from plain spec mappings, and check specs without building anything.

A spec is a mapping such as ``{"arch": "mlp", "hidden": [256, 256], "activation": "relu"}`` or
``{"arch": "pgnn", "hidden": [...], "shaping": "spectral", "gamma": 2.0, ...}``: ``arch`` picks a
class in :data:`ARCHS`, every other key is a keyword argument of that class (omitted keys take the
class defaults). OmegaConf ``DictConfig``/``ListConfig`` values work as mappings/sequences.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Mapping

from torch import nn

from .activations import check_activation
from .mlp import MLP, check_widths
from .pgnn import PGNN
from .shaping import check_shaping

__all__ = ["ARCHS", "build_model", "count_parameters", "validate_spec"]

ARCHS: dict[str, type[nn.Module]] = {"mlp": MLP, "pgnn": PGNN}


def _fail(key: str, what: str, value: object) -> None:
    raise ValueError(f"model spec key '{key}': must be {what}, got {value!r}")


def _is_int(value: object) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _is_real(value: object) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _int_at_least(low: int) -> Callable[[str, object], None]:
    def check(key: str, value: object) -> None:
        if not _is_int(value) or value < low:
            _fail(key, f"an int >= {low}", value)

    return check


def _positive_number(key: str, value: object) -> None:
    if not _is_real(value) or not math.isfinite(value) or value <= 0:
        _fail(key, "a finite number > 0", value)


def _finite_number(key: str, value: object) -> None:
    if not _is_real(value) or not math.isfinite(value):
        _fail(key, "a finite number", value)


def _boolean(key: str, value: object) -> None:
    if not isinstance(value, bool):
        _fail(key, "true or false", value)


def _optional_rank(key: str, value: object) -> None:
    if value is not None and (not _is_int(value) or value < 1):
        _fail(key, "null (default: min(in, out) per layer) or an int >= 1", value)


_CHECKS: dict[str, Callable[[str, object], None]] = {
    "hidden": lambda key, value: check_widths(value, key),
    "activation": lambda key, value: check_activation(value, key),
    "corr_activation": lambda key, value: check_activation(value, key),
    "shaping": lambda key, value: check_shaping(value),
    "gamma": _positive_number,
    "proj_rank": _optional_rank,
    "correction": _boolean,
    "corr_rank": _int_at_least(1),
    "alpha": _finite_number,
    "learn_alpha": _boolean,
    "power_iterations": _int_at_least(1),
}

# Keys each arch accepts (besides "arch") and which of them are required.
_KEYS: dict[str, tuple[set[str], set[str]]] = {
    "mlp": ({"hidden", "activation"}, {"hidden"}),
    "pgnn": (
        {
            "hidden",
            "activation",
            "shaping",
            "gamma",
            "proj_rank",
            "correction",
            "corr_rank",
            "corr_activation",
            "alpha",
            "learn_alpha",
            "power_iterations",
        },
        {"hidden"},
    ),
}


def validate_spec(spec: Mapping) -> None:
    """Check a model spec fully without building a network; raise ValueError naming the bad key.

    Checks the arch name, unknown and missing keys, every value's type and range, and that
    ``proj_rank`` does not exceed any hidden width (the input width of layers 2.. and readout).
    """
    if not isinstance(spec, Mapping):
        raise ValueError(f"model spec: must be a mapping with an 'arch' key, got {spec!r}")
    arch = spec.get("arch")
    if not isinstance(arch, str) or arch not in ARCHS:
        raise ValueError(f"model spec key 'arch': unknown arch {arch!r}; valid: {', '.join(ARCHS)}")
    allowed, required = _KEYS[arch]
    for key in spec:
        if key != "arch" and key not in allowed:
            valid = ", ".join(["arch", *sorted(allowed)])
            raise ValueError(f"model spec key {key!r}: unknown for arch {arch!r}; valid: {valid}")
    for key in sorted(required):
        if key not in spec:
            raise ValueError(f"model spec key {key!r}: required for arch {arch!r}")
    for key in sorted(allowed & set(spec)):
        _CHECKS[key](key, spec[key])
    rank = spec.get("proj_rank")
    if arch == "pgnn" and spec.get("shaping", "spectral") == "projection" and rank is not None:
        narrowest = min(spec["hidden"])
        if rank > narrowest:
            _fail(
                "proj_rank",
                f"<= the narrowest hidden width {narrowest} (projections act on layer inputs)",
                rank,
            )


def build_model(spec: Mapping, input_dim: int, num_classes: int) -> nn.Module:
    """Validate ``spec`` and build the network it describes for ``input_dim`` -> ``num_classes``."""
    validate_spec(spec)
    for name, value in (("input_dim", input_dim), ("num_classes", num_classes)):
        if not _is_int(value) or value < 1:
            raise ValueError(f"build_model argument '{name}': must be an int >= 1, got {value!r}")
    kwargs = {key: value for key, value in spec.items() if key != "arch"}
    kwargs["hidden"] = [int(w) for w in kwargs["hidden"]]
    return ARCHS[spec["arch"]](int(input_dim), int(num_classes), **kwargs)


def count_parameters(model: nn.Module, trainable_only: bool = False) -> int:
    """Number of scalar parameters in ``model`` (only those with ``requires_grad`` if asked)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)
