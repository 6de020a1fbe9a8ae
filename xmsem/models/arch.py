"""A built-in network kind's extension point: :class:`ArchSpec` (class, keys with their checks,
defaults, layer names, constraints, builder, optional batched builder), registered by name.
Adding an ``arch`` is one ``register_arch(ArchSpec(...))``: spec validation, building, the layer
names the config refers to, and ensembles (``ensemble=K``) all read the spec."""

from __future__ import annotations

import importlib
import inspect
import math
import numbers
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # no torch here: config validation reads the specs before torch is imported
    from torch import nn

__all__ = ["ARCHS", "XMSEM_KEYS", "ArchSpec", "ValueCheck", "fail", "register_arch"]

# keys of a member spec that xmsem owns: never passed to a constructor
XMSEM_KEYS = ("arch", "_target_", "layers", "input_shape", "labels", "weight_decay")

ValueCheck = Callable[[str, object], None]  # check(key, value): one-line ValueError if bad


def fail(key: str, what: str, value: object) -> None:
    """The one-line error of a bad member-spec value."""
    raise ValueError(f"model spec key '{key}': must be {what}, got {value!r}")


def is_int(value: object) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def is_real(value: object) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _plain(value: Any) -> Any:
    """Lists of integers (widths) as lists of python ints (config lists, numpy ints)."""
    if isinstance(value, Sequence) and not isinstance(value, str) and all(map(is_int, value)):
        return [int(v) for v in value]
    return value


def hidden_layers(spec: Mapping[str, Any]) -> list[str]:
    """``h1 .. hL`` for the ``hidden`` widths of a spec (MLP-like networks)."""
    return [f"h{i + 1}" for i in range(len(spec.get("hidden") or []))]


@dataclass(frozen=True, eq=False)
class ArchSpec:
    """One built-in ``arch``. ``options``: every key the spec accepts (besides ``arch``) with its
    value check; ``required``: those without a default; ``defaults``: values used when a key is
    omitted and the class has no default of its own (also what :attr:`layers` sees).
    ``layers(spec)``: the hidden layer names in order, from the spec alone; ``widths(spec)``:
    their widths when the spec alone says (None: known only once built). ``image``: inputs arrive
    in the dataset's image shape (else flat). ``build(kwargs, shape, num_classes)``: the network
    (default ``cls(prod(shape), num_classes, **kwargs)``). ``check(spec)``: constraints across
    keys. ``batched(nets)``: K built copies as one vectorised network (``ensemble=K``; None: not
    vectorisable). ``cls`` is the class or its import path (``"pkg.module.Class"``, imported when
    a network is built: the built-in archs are declared so, so that validating a spec needs no
    torch)."""

    name: str
    cls: type[nn.Module] | str
    options: Mapping[str, ValueCheck]
    required: frozenset[str] = frozenset()
    defaults: Mapping[str, Any] = field(default_factory=dict)
    layers: Callable[[Mapping[str, Any]], list[str]] = hidden_layers
    widths: Callable[[Mapping[str, Any]], list[int] | None] | None = None
    image: bool = False
    build: Callable[[dict[str, Any], tuple[int, ...], int], nn.Module] | None = None
    check: Callable[[Mapping[str, Any]], None] | None = None
    batched: Callable[[Sequence[nn.Module]], nn.Module] | None = None
    doc: str = ""

    def __post_init__(self) -> None:
        keys = set(self.options)
        if not set(self.required) <= keys or not set(self.defaults) <= keys:
            raise TypeError(f"arch {self.name!r}: required and defaults must be options")
        owned = keys & set(XMSEM_KEYS) - {"input_shape"}
        if owned:
            raise TypeError(f"arch {self.name!r}: options {sorted(owned)} are xmsem's own keys")
        if not isinstance(self.cls, str):
            self._check_class(self.cls)

    def _check_class(self, cls: type) -> None:
        """Without a ``build``, the class itself takes the options: they must be its keywords."""
        if self.build is None:
            params = inspect.signature(cls).parameters
            unknown = sorted(k for k in set(self.options) - set(XMSEM_KEYS) if k not in params)
            if unknown:
                raise TypeError(f"arch {self.name!r}: {cls.__name__} takes no {unknown}")

    @property
    def net_class(self) -> type[nn.Module]:
        """The network class (``cls``, imported and checked when given as an import path)."""
        if not isinstance(self.cls, str):
            return self.cls
        module, _, name = self.cls.rpartition(".")
        cls = getattr(importlib.import_module(module), name)
        self._check_class(cls)
        return cls

    def with_defaults(self, spec: Mapping[str, Any]) -> dict[str, Any]:
        """``spec`` with the arch's defaults for the keys it omits."""
        return {**self.defaults, **spec}

    def validate(self, spec: Mapping[str, Any]) -> None:
        """Unknown and missing keys, each value's check, then the cross-key constraints."""
        for key in spec:
            if key != "arch" and key not in self.options:
                valid = ", ".join(["arch", *sorted(self.options)])
                raise ValueError(f"model spec key {key!r}: unknown for arch {self.name!r}; "
                                 f"valid: {valid}")  # fmt: skip
        for key in sorted(self.required):
            if key not in spec:
                raise ValueError(f"model spec key {key!r}: required for arch {self.name!r}")
        for key in sorted(set(self.options) & set(spec)):
            self.options[key](key, spec[key])
        if self.check is not None:
            self.check(spec)

    def make(self, spec: Mapping[str, Any], shape: tuple[int, ...], num_classes: int) -> nn.Module:
        """The network of a validated ``spec`` for inputs of ``shape`` and ``num_classes``."""
        kwargs = {k: _plain(v) for k, v in self.with_defaults(spec).items() if k not in XMSEM_KEYS}
        if self.build is not None:
            return self.build(kwargs, shape, num_classes)
        return self.net_class(math.prod(shape), num_classes, **kwargs)


ARCHS: dict[str, ArchSpec] = {}


def register_arch(spec: ArchSpec, replace: bool = False) -> ArchSpec:
    """Add ``spec`` to :data:`ARCHS`; a name already taken is an error unless ``replace``."""
    if spec.name in ARCHS and not replace:
        raise ValueError(f"arch {spec.name!r} is already registered")
    ARCHS[spec.name] = spec
    return spec


def unregister_arch(name: str) -> None:
    """Remove an arch (tests that register a temporary one)."""
    ARCHS.pop(name)
