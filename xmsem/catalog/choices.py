"""Checks of a metric's own options, and the names of alignment's choices (torch-free).

:class:`Option` is a metric option's check and the text its error names; :func:`check_options`
is the one implementation of that error (:meth:`xmsem.alignment.MetricSpec.check_options` and
config validation both call it). :data:`MAP_KINDS` and :data:`NORMALIZATIONS` are defined here,
where validation reads them without torch; :mod:`xmsem.alignment.maps` and
:mod:`xmsem.alignment.normalize` use (and re-export) them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "MAP_KINDS",
    "NONNEGATIVE_FLOAT",
    "NORMALIZATIONS",
    "POSITIVE_FLOAT",
    "POSITIVE_INT",
    "UNIT_INTERVAL",
    "Option",
    "check_options",
    "choice",
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
