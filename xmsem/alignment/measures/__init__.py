"""Representation similarity measures beyond CKA, each in its own module (ReSi, Klabunde et al.
2024; platonic-rep, Huh et al. 2024; netrep, Williams et al. 2021; and the papers they cite).

A module here defines its measure as a pure torch function and registers its
:class:`~xmsem.alignment.registry.MetricSpec` at import; :func:`discover` imports every module of
this package, so adding a measure is one module (plus its test) and touches no list anywhere.
"""

from __future__ import annotations

import importlib
import pkgutil

__all__ = ["discover"]


def discover() -> list[str]:
    """Import every measure module of this package (each registers its spec); their names."""
    names = sorted(m.name for m in pkgutil.iter_modules(__path__) if not m.name.startswith("_"))
    for name in names:
        importlib.import_module(f"{__name__}.{name}")
    return names


MODULES = discover()
