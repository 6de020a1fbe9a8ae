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
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING

from .activations import check_activation
from .arch import ARCHS, XMSEM_KEYS, ArchSpec, fail, is_int, is_real, register_arch
from .checks import check_shaping, check_widths

if TYPE_CHECKING:  # torch is imported where networks are built: validating a spec needs none
    from torch import nn

    from .extract import ExtractedNet

__all__ = [
    "ARCHS",
    "XMSEM_KEYS",
    "ArchSpec",
    "build_model",
    "count_parameters",
    "layer_widths",
    "member_layers",
    "register_arch",
    "stack_copies",
    "validate_spec",
]

_fail = fail  # the one-line error of a bad value (module-local name used below)


# --------------------------------------------------------------------------- value checks
def _int_at_least(low: int) -> Callable[[str, object], None]:
    def check(key: str, value: object) -> None:
        if not is_int(value) or value < low:
            fail(key, f"an int >= {low}", value)

    return check


def _positive_number(key: str, value: object) -> None:
    if not is_real(value) or not math.isfinite(value) or value <= 0:
        fail(key, "a finite number > 0", value)


def _finite_number(key: str, value: object) -> None:
    if not is_real(value) or not math.isfinite(value):
        fail(key, "a finite number", value)


def _boolean(key: str, value: object) -> None:
    if not isinstance(value, bool):
        fail(key, "true or false", value)


def _shape(key: str, value: object) -> None:
    ok = isinstance(value, Sequence) and not isinstance(value, (str, bytes)) and len(value) > 0
    if not ok or not all(is_int(v) and v >= 1 for v in value):
        fail(key, "a non-empty list of positive ints such as [1, 28, 28]", value)


def _optional_rank(key: str, value: object) -> None:
    if value is not None and (not is_int(value) or value < 1):
        fail(key, "null (default: min(in, out) per layer) or an int >= 1", value)


def _widths(key: str, value: object) -> None:
    check_widths(value, key)


def _activation(key: str, value: object) -> None:
    check_activation(value, key)


def _shaping(key: str, value: object) -> None:
    check_shaping(value)


# --------------------------------------------------------------------------- built-in archs
def _ensemble(nets: Sequence[nn.Module]) -> nn.Module:
    from .ensemble import EnsembleNet  # natively batched MLP / PGNN copies

    return EnsembleNet.from_copies(list(nets))


def _hidden_widths(spec: Mapping) -> list[int]:
    return [int(w) for w in spec.get("hidden") or []]


def _pgnn_rank_fits(spec: Mapping) -> None:
    """``proj_rank`` must not exceed any hidden width (the input width of layers 2.. and readout)."""
    rank = spec.get("proj_rank")
    if spec.get("shaping", "spectral") == "projection" and rank is not None:
        narrowest = min(spec["hidden"])
        if rank > narrowest:
            fail("proj_rank",
                 f"<= the narrowest hidden width {narrowest} (projections act on layer inputs)",
                 rank)  # fmt: skip


def _cnn_layers(spec: Mapping) -> list[str]:
    return [f"conv{i + 1}" for i in range(len(spec["channels"]))] + [
        f"fc{i + 1}" for i in range(len(spec["hidden"]))
    ]


def _build_cnn(kwargs: dict, shape: tuple[int, ...], num_classes: int) -> nn.Module:
    from .cnn import CNN

    if len(shape) != 3:
        raise ValueError(
            f"model spec key 'input_shape': arch cnn needs images [C, H, W], got {list(shape)}"
            f" (flat data: set input_shape, e.g. [1, H, W] with H * W = {math.prod(shape)})"
        )
    return CNN(shape, num_classes, **kwargs)


_MLP_KEYS = {"hidden": _widths, "activation": _activation}
register_arch(ArchSpec(
    "mlp", "xmsem.models.mlp.MLP", _MLP_KEYS, required=frozenset({"hidden"}), widths=_hidden_widths,
    batched=_ensemble, doc="Linear -> activation blocks",
))  # fmt: skip
register_arch(ArchSpec(
    "pgnn", "xmsem.models.pgnn.PGNN",
    {**_MLP_KEYS, "shaping": _shaping, "gamma": _positive_number, "proj_rank": _optional_rank,
     "correction": _boolean, "corr_rank": _int_at_least(1), "corr_activation": _activation,
     "alpha": _finite_number, "learn_alpha": _boolean, "power_iterations": _int_at_least(1)},
    required=frozenset({"hidden"}), widths=_hidden_widths, check=_pgnn_rank_fits,
    batched=_ensemble, doc="shaped weights plus a low-rank nonlinear correction path",
))  # fmt: skip
register_arch(ArchSpec(
    "cnn", "xmsem.models.cnn.CNN",
    {"channels": _widths, "hidden": _widths, "kernel_size": _int_at_least(1),
     "pool": _int_at_least(1), "activation": _activation, "input_shape": _shape},
    defaults={"channels": [16, 32], "hidden": [128]}, layers=_cnn_layers, image=True,
    build=_build_cnn, doc="conv blocks then fc blocks, on images",
))  # fmt: skip


def get_arch(name: object) -> ArchSpec:
    """The registered arch ``name``; one-line ValueError listing the valid ones otherwise."""
    if not isinstance(name, str) or name not in ARCHS:
        raise ValueError(
            f"model spec key 'arch': unknown arch {name!r}; valid: {', '.join(ARCHS)} "
            "(or '_target_: pkg.Module' with 'layers')"
        )
    return ARCHS[name]


# --------------------------------------------------------------------------- member specs
def validate_spec(spec: Mapping) -> None:
    """Check a model spec fully without building a network; raise ValueError naming the bad key.

    Checks the arch name, unknown and missing keys, every value's type and range, and the arch's
    own constraints (e.g. pgnn: ``proj_rank`` within every hidden width); a ``_target_`` spec:
    the import path and the named layers.
    """
    if not isinstance(spec, Mapping):
        raise ValueError(
            f"model spec: must be a mapping with an 'arch' or a '_target_' key, got {spec!r}"
        )
    if "_target_" in spec:
        _validate_target(spec)
        return
    get_arch(spec.get("arch")).validate(spec)


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
    from .extract import check_layers

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
    import torch
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
    if not isinstance(net, torch.nn.Module):
        _fail("_target_", "a class (or function) returning a torch.nn.Module", spec["_target_"])
    return net


def member_layers(spec: Mapping) -> list[str]:
    """Names of a member's hidden layers, in order, from its spec alone (no network is built)."""
    if "_target_" in spec:
        return [str(name) for name in spec["layers"]]
    arch = get_arch(spec.get("arch"))
    return arch.layers(arch.with_defaults(spec))


def layer_widths(spec: Mapping) -> dict[str, int] | None:
    """Width of each hidden layer from the spec alone; None when only the built network knows."""
    if "_target_" in spec or get_arch(spec.get("arch")).widths is None:
        return None
    arch = get_arch(spec["arch"])
    full = arch.with_defaults(spec)
    return dict(zip(arch.layers(full), arch.widths(full), strict=True))


def stack_copies(spec: Mapping, nets: Sequence[nn.Module]) -> nn.Module:
    """K built copies of a member as one vectorised network (its arch's batched builder)."""
    arch = None if "_target_" in spec else ARCHS.get(spec.get("arch"))
    if arch is None or arch.batched is None:
        raise ValueError(f"model spec {dict(spec)!r}: its copies cannot be vectorised")
    return arch.batched(nets)


def input_shape_of(
    spec: Mapping, input_dim: int, image_shape: Sequence[int] | None = None
) -> tuple[int, ...]:
    """The shape one input example is given to the member: ``spec["input_shape"]``, else the
    dataset's ``image_shape`` for ``cnn``/``_target_`` members, else ``(input_dim,)``."""
    image = "_target_" in spec or get_arch(spec.get("arch")).image
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
        if not is_int(value) or value < 1:
            raise ValueError(f"build_model argument '{name}': must be an int >= 1, got {value!r}")
    shape = input_shape_of(spec, int(input_dim), image_shape)
    if "_target_" in spec:
        return _build_target(spec, shape, int(num_classes))
    return get_arch(spec["arch"]).make(spec, shape, int(num_classes))


def _build_target(spec: Mapping, shape: tuple[int, ...], num_classes: int) -> ExtractedNet:
    import torch

    from .extract import ExtractedNet

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
