"""xmsem: how the hidden representations of neural networks line up.

Library entry points (imported on first use, so ``import xmsem`` stays light):
:func:`compare_models` (two in-memory models over a loader), ``xmsem.lightning.AlignmentCallback``
(inside any LightningModule) and ``xmsem.metrics`` (torchmetrics classes for streaming CKA).
"""

from __future__ import annotations

from typing import Any

__all__ = ["Comparison", "compare_models"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from xmsem import inmemory

        return getattr(inmemory, name)
    raise AttributeError(f"module 'xmsem' has no attribute {name!r}")
