"""Checks of a configuration's metric choices against a registry, and the names of alignment's
other choices (torch-free).

:class:`Option` is a metric option's check and the text its error names. :func:`check_options`
and :func:`check_metric_params` are the one implementation of those errors, given the registry
to check against: :mod:`xmsem.alignment.registry` passes its live ``METRICS``, config
validation :func:`xmsem.catalog.metric_catalog` (the same, or read from the sources). :data:`MAP_KINDS` and :data:`NORMALIZATIONS` are defined here,
where validation reads them without torch; :mod:`xmsem.alignment.maps` and
:mod:`xmsem.alignment.normalize` use (and re-export) them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "CLOSED_UNIT_INTERVAL",
    "INT_AT_LEAST_2",
    "MAP_KINDS",
    "NONNEGATIVE_FLOAT",
    "NORMALIZATIONS",
    "POSITIVE_FLOAT",
    "POSITIVE_INT",
    "UNIT_INTERVAL",
    "Option",
    "check_metric_params",
    "check_options",
    "choice",
    "configured",
    "default_metrics",
]

MAP_KINDS = ("identity", "linear", "orthogonal", "similarity")  # maps B -> A (alignment.maps)
NORMALIZATIONS = ("none", "center", "unit_norm", "standardize")  # alignment.normalize


@dataclass(frozen=True)
class Option:
    """A metric's own parameter: ``check(value) -> bool`` and ``valid``, the text an error names
    (e.g. ``"an int >= 1"``). Its default is the keyword's default in the metric function."""

    check: Callable[[Any], bool]
    valid: str


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


POSITIVE_INT = Option(lambda v: _is_int(v) and v >= 1, "an int >= 1")
POSITIVE_FLOAT = Option(lambda v: isinstance(v, (int, float)) and not isinstance(v, bool)
                        and 0 < float(v) < float("inf"), "a finite number > 0")  # fmt: skip
NONNEGATIVE_FLOAT = Option(lambda v: isinstance(v, (int, float)) and not isinstance(v, bool)
                           and 0 <= float(v) < float("inf"), "a finite number >= 0")  # fmt: skip
UNIT_INTERVAL = Option(lambda v: isinstance(v, (int, float)) and not isinstance(v, bool)
                       and 0 < float(v) <= 1, "a number in (0, 1]")  # fmt: skip
CLOSED_UNIT_INTERVAL = Option(lambda v: isinstance(v, (int, float)) and not isinstance(v, bool)
                              and 0 <= float(v) <= 1, "a number in [0, 1]")  # fmt: skip
INT_AT_LEAST_2 = Option(lambda v: _is_int(v) and v >= 2, "an int >= 2")


def choice(*values: str) -> Option:
    """An option whose value is one of ``values``."""
    return Option(lambda v: v in values, f"one of {', '.join(values)}")


def check_options(
    metric: str, options: Mapping[str, Option], values: Mapping[str, Any], where: str
) -> None:
    """One-line ValueError naming ``<where>.<metric>.<keyword>`` for a keyword that is not one of
    ``options`` or a value its check refuses."""
    for kw, value in values.items():
        if kw not in options:
            valid = ", ".join(options) or "none"
            raise ValueError(f"{where}.{metric}.{kw}: not an option of {metric}; valid: {valid}")
        option = options[kw]
        if not option.check(value):
            raise ValueError(f"{where}.{metric}.{kw}={value!r}; valid: {option.valid}")


def check_metric_params(
    metrics: Mapping[str, Any],
    metric_params: Mapping[str, Mapping[str, Any]] | None,
    where: str = "metric_params",
) -> None:
    """One-line ValueError for a ``metric_params`` entry naming a metric not in ``metrics`` (the
    registry: name -> spec with ``options``), an unknown option or a refused value
    (``<where>.<metric>.<keyword>``)."""
    for name, values in (metric_params or {}).items():
        if name not in metrics:
            raise ValueError(f"{where}.{name}: not a registered metric; valid: {sorted(metrics)}")
        if not isinstance(values, Mapping):
            raise ValueError(f"{where}.{name} must map option names to values, got {values!r}")
        check_options(name, metrics[name].options, values, where)


def default_metrics(metrics: Mapping[str, Any]) -> tuple[str, ...]:
    """The metrics of the registry ``metrics`` that the live measurements compute unless the
    config lists others (``default``), in registry order."""
    return tuple(name for name, spec in metrics.items() if spec.default)


def configured(metrics: Mapping[str, Any], names: Iterable[str]) -> list[Any]:
    """The registry's specs of ``names`` (e.g. ``settings.metrics``), in that order."""
    return [metrics[n] for n in names if n in metrics]
