"""Representation snapshots: their files (``store``) and the alignment rows computed from them
(``measure``). Shared by the live callback (xmsem.lit) and the sweep analysis (xmsem.analyze).

Importing the package imports no torch: :class:`MeasureSettings` (``settings``) is what config
validation reads; the torch code is imported on first use of its names (PEP 562)."""

from typing import Any

from xmsem.snapshots.settings import MeasureSettings

__all__ = ["MeasureSettings", "SnapshotStore", "member_rows", "pair_rows"]

_LAZY = {"SnapshotStore": "store", "member_rows": "measure", "pair_rows": "measure"}


def __getattr__(name: str) -> Any:
    """The torch-backed names on first use (config validation needs only the settings)."""
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
