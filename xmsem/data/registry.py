"""Name -> :class:`~xmsem.data.spec.DatasetSpec` registry of the raw datasets. Each dataset module
registers its own spec; importing this module imports the built-in ones."""

from __future__ import annotations

from typing import Any

# each module registers its DatasetSpec when imported
from xmsem.data import cifar10, fmnist, synthetic  # noqa: F401
from xmsem.data.spec import DATASETS, DatasetSpec
from xmsem.data.tensors import RawSplits

__all__ = ["DATASETS", "get_dataset", "load_raw"]


def get_dataset(name: str) -> DatasetSpec:
    """The registered dataset ``name``; one-line ValueError listing the valid names otherwise."""
    try:
        return DATASETS[name]
    except (KeyError, TypeError):
        valid = ", ".join(sorted(DATASETS))
        raise ValueError(f"unknown dataset name {name!r}; valid names: {valid}") from None


def load_raw(name: str, **kwargs: Any) -> RawSplits:
    """Load dataset ``name`` (a key of :data:`DATASETS`), passing ``kwargs`` to its loader."""
    return get_dataset(name).loader(**kwargs)
