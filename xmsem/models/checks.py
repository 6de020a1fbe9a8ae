"""Value checks of member-spec keys that need no network: hidden widths and shaping names.

Kept free of torch (as are :mod:`~xmsem.models.arch`, :mod:`~xmsem.models.activations` and
:mod:`~xmsem.models.factory`), so a bad member spec stops a run in one line before torch is
imported; the networks check their arguments with the same functions.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["SHAPING_KINDS", "check_shaping", "check_widths"]

# the shaping operators by config name, in the order errors list them; xmsem.models.shaping maps
# each to its class (a name without a class, or a class without a name, fails at its import)
SHAPING_KINDS = ("spectral", "projection", "diagonal", "none")


def check_widths(hidden: object, key: str = "hidden") -> list[int]:
    """Return ``hidden`` as a list of ints if it is a non-empty sequence of positive ints."""
    ok = isinstance(hidden, Sequence) and not isinstance(hidden, (str, bytes)) and len(hidden) > 0
    if ok:
        ok = all(isinstance(w, int) and not isinstance(w, bool) and w > 0 for w in hidden)
    if not ok:
        raise ValueError(
            f"model spec key '{key}': must be a non-empty list of positive ints, got {hidden!r}"
        )
    return [int(w) for w in hidden]


def check_shaping(name: object) -> str:
    """Return ``name`` if it names a shaping operator, else raise ValueError listing valid ones."""
    if not isinstance(name, str) or name not in SHAPING_KINDS:
        valid = ", ".join(SHAPING_KINDS)
        raise ValueError(f"model spec key 'shaping': unknown shaping {name!r}; valid: {valid}")
    return name
