"""Build networks from plain spec mappings, and check specs before any data is loaded.

A member spec is one of

* a built-in ``arch`` (:data:`ARCHS`): ``{"arch": "mlp", "hidden": [256, 256]}``,
  ``{"arch": "pgnn", "hidden": [...], "shaping": "spectral", ...}``,
  ``{"arch": "cnn", "channels": [16, 32], "hidden": [128]}``; every other key is a keyword
  argument of that class (omitted keys take the class defaults);
* any ``nn.Module`` by import path: ``{"_target_": "mypkg.Net", "layers": ["conv1", "fc1"],
  <constructor kwargs>}``, built with ``hydra.utils.instantiate`` and wrapped in
  :class:`~xmsem.models.extract.ExtractedNet` (hidden layers = the outputs of the named modules).

Keys owned by xmsem (:data:`XMSEM_KEYS`) are never passed to a constructor: ``arch``,
``_target_``, ``layers``, ``input_shape`` (the shape each input example is given to the network,
e.g. ``[1, 28, 28]``; default: the dataset's image shape for ``cnn`` and ``_target_`` members,
flat vectors for ``mlp``/``pgnn``), ``labels`` and ``weight_decay`` (the member's own optimizer
group). OmegaConf containers work as mappings/sequences.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Mapping, Sequence

import torch
from torch import nn

from .activations import check_activation
from .cnn import CNN
from .extract import ExtractedNet, check_layers
from .mlp import MLP, check_widths
from .pgnn import PGNN
from .shaping import check_shaping

__all__ = [
    "ARCHS",
    "XMSEM_KEYS",
    "build_model",
    "count_parameters",
    "member_layers",
    "validate_spec",
]

ARCHS: dict[str, type[nn.Module]] = {"mlp": MLP, "pgnn": PGNN, "cnn": CNN}
XMSEM_KEYS = ("arch", "_target_", "layers", "input_shape", "labels", "weight_decay")


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


def _shape(key: str, value: object) -> None:
    ok = isinstance(value, Sequence) and not isinstance(value, (str, bytes)) and len(value) > 0
    if not ok or not all(_is_int(v) and v >= 1 for v in value):
        _fail(key, "a non-empty list of positive ints such as [1, 28, 28]", value)


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
    "channels": lambda key, value: check_widths(value, key),
    "kernel_size": _int_at_least(1),
    "pool": _int_at_least(1),
    "input_shape": _shape,
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
    "cnn": ({"channels", "hidden", "kernel_size", "pool", "activation", "input_shape"}, set()),
}
_CNN_DEFAULTS = {"channels": [16, 32], "hidden": [128]}


def validate_spec(spec: Mapping) -> None:
    """Check a model spec fully without building a network; raise ValueError naming the bad key.

    Checks the arch name, unknown and missing keys, every value's type and range, and that
    ``proj_rank`` does not exceed any hidden width (the input width of layers 2.. and readout).
    """
    if not isinstance(spec, Mapping):
        raise ValueError(
            f"model spec: must be a mapping with an 'arch' or a '_target_' key, got {spec!r}"
        )
    if "_target_" in spec:
        _validate_target(spec)
        return
    arch = spec.get("arch")
    if not isinstance(arch, str) or arch not in ARCHS:
        raise ValueError(
            f"model spec key 'arch': unknown arch {arch!r}; valid: {', '.join(ARCHS)} "
            "(or '_target_: pkg.Module' with 'layers')"
        )
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


def _validate_target(spec: Mapping) -> None:
    """A ``_target_`` spec: importable class, ``layers`` naming modules of the built network."""
    target = spec["_target_"]
    if "arch" in spec:
        raise ValueError("model spec: give either 'arch' or '_target_', not both")
    if not isinstance(target, str) or not target:
        _fail("_target_", "an import path such as mypkg.SmallCNN", target)
    _target_class(target)
    layers = spec.get("layers")
    ok = isinstance(layers, Sequence) and not isinstance(layers, (str, bytes)) and len(layers) > 0
    if not ok or not all(isinstance(name, str) for name in layers):
        _fail("layers", "a non-empty list of module names (the hidden layers)", layers)
    if "input_shape" in spec:
        _shape("input_shape", spec["input_shape"])
    check_layers(_instantiate(spec), list(layers))


def _target_class(target: str) -> object:
    """The object at import path ``target`` (``pkg.module.Class``), or a one-line ValueError."""
    import importlib

    parts = target.split(".")
    problem = "no module part"
    for cut in range(len(parts) - 1, 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ModuleNotFoundError as err:
            problem = f"ModuleNotFoundError: {err}"
            continue
        except Exception as err:  # noqa: BLE001 - the user's module failed while importing
            problem = " ".join(f"{type(err).__name__}: {err}".split())[:200]
            break
        try:
            for name in parts[cut:]:
                obj = getattr(obj, name)
            return obj
        except AttributeError:
            problem = f"module {'.'.join(parts[:cut])!r} has no {'.'.join(parts[cut:])!r}"
            break
    raise ValueError(
        f"model spec key '_target_': cannot import {target!r} ({problem}; is its package on "
        "PYTHONPATH?)"
    )


def _instantiate(spec: Mapping) -> nn.Module:
    """Construct a ``_target_`` network (xmsem's keys left out) without touching the global RNG."""
    from hydra.utils import instantiate

    kwargs = {k: v for k, v in spec.items() if k not in XMSEM_KEYS}
    with torch.random.fork_rng(devices=[]):
        try:
            net = instantiate({"_target_": spec["_target_"], **kwargs}, _convert_="all")
        except Exception as err:  # noqa: BLE001 - report the constructor's own complaint
            cause = err.__cause__ or err
            reason = " ".join(f"{type(cause).__name__}: {cause}".split())[:300]
            msg = f"model spec key '_target_': {spec['_target_']}(...) failed: {reason}"
            raise ValueError(msg) from None
    if not isinstance(net, nn.Module):
        _fail("_target_", "a class (or function) returning a torch.nn.Module", spec["_target_"])
    return net


def member_layers(spec: Mapping) -> list[str]:
    """Names of a member's hidden layers, in order, from its spec alone (no network is built)."""
    if "_target_" in spec:
        return [str(name) for name in spec["layers"]]
    if spec.get("arch") == "cnn":
        channels = spec.get("channels", _CNN_DEFAULTS["channels"])
        hidden = spec.get("hidden", _CNN_DEFAULTS["hidden"])
        return [f"conv{i + 1}" for i in range(len(channels))] + [
            f"fc{i + 1}" for i in range(len(hidden))
        ]
    return [f"h{i + 1}" for i in range(len(spec.get("hidden") or []))]


def input_shape_of(
    spec: Mapping, input_dim: int, image_shape: Sequence[int] | None = None
) -> tuple[int, ...]:
    """The shape one input example is given to the member: ``spec["input_shape"]``, else the
    dataset's ``image_shape`` for ``cnn``/``_target_`` members, else ``(input_dim,)``."""
    image = "_target_" in spec or spec.get("arch") == "cnn"
    shape = spec.get("input_shape") or (image_shape if image and image_shape else None)
    shape = tuple(int(s) for s in shape) if shape else (int(input_dim),)
    if math.prod(shape) != input_dim:
        raise ValueError(
            f"model spec key 'input_shape': {list(shape)} holds {math.prod(shape)} values but each"
            f" input example has {input_dim} features"
        )
    return shape


def build_model(
    spec: Mapping,
    input_dim: int,
    num_classes: int,
    image_shape: Sequence[int] | None = None,
) -> nn.Module:
    """Validate ``spec`` and build the network it describes for ``input_dim`` -> ``num_classes``.

    ``image_shape`` is the dataset's shape of one example (e.g. ``(1, 28, 28)``; None for flat
    data): image models (``cnn``, ``_target_``) see their inputs in that shape unless the spec's
    ``input_shape`` says otherwise.
    """
    validate_spec(spec)
    for name, value in (("input_dim", input_dim), ("num_classes", num_classes)):
        if not _is_int(value) or value < 1:
            raise ValueError(f"build_model argument '{name}': must be an int >= 1, got {value!r}")
    shape = input_shape_of(spec, int(input_dim), image_shape)
    if "_target_" in spec:
        return _build_target(spec, shape, int(num_classes))
    kwargs = {key: value for key, value in spec.items() if key not in XMSEM_KEYS}
    if spec["arch"] == "cnn":
        if len(shape) != 3:
            raise ValueError(
                f"model spec key 'input_shape': arch cnn needs images [C, H, W], got {list(shape)}"
                f" (flat data: set input_shape, e.g. [1, H, W] with H * W = {input_dim})"
            )
        return CNN(shape, int(num_classes), **{**_CNN_DEFAULTS, **kwargs})
    kwargs["hidden"] = [int(w) for w in kwargs["hidden"]]
    return ARCHS[spec["arch"]](int(input_dim), int(num_classes), **kwargs)


def _build_target(spec: Mapping, shape: tuple[int, ...], num_classes: int) -> ExtractedNet:
    net = ExtractedNet(_instantiate(spec), [str(n) for n in spec["layers"]], shape)
    with torch.random.fork_rng(devices=[]):
        probe = torch.randn(2, math.prod(shape))
    try:
        net.verify(probe)
        was = net.training
        net.eval()
        with torch.no_grad():
            logits, hidden = net(probe, return_hidden=True)
        net.train(was)
    except Exception as err:  # noqa: BLE001 - the user's network failed on xmsem's input
        reason = " ".join(f"{type(err).__name__}: {err}".split())[:300]
        raise ValueError(
            f"model spec key '_target_': {spec['_target_']} failed on inputs of shape "
            f"(B, {', '.join(map(str, shape))}): {reason}"
        ) from None
    if tuple(logits.shape) != (2, num_classes):
        raise ValueError(
            f"model spec key '_target_': {spec['_target_']} returns {tuple(logits.shape)} for 2 "
            f"examples; expected logits (2, {num_classes}) for this dataset's {num_classes} classes"
        )
    return net


def count_parameters(model: nn.Module, trainable_only: bool = False) -> int:
    """Number of scalar parameters in ``model`` (only those with ``requires_grad`` if asked)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)
