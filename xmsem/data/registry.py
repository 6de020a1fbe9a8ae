"""Name -> loader registry for the raw datasets."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from xmsem.data.cifar10 import load_cifar10
from xmsem.data.fmnist import load_fmnist
from xmsem.data.synthetic import load_synthetic
from xmsem.data.tensors import RawSplits

DATASETS: dict[str, Callable[..., RawSplits]] = {
    "synthetic": load_synthetic,
    "fmnist": load_fmnist,
    "cifar10": load_cifar10,
}


def load_raw(name: str, **kwargs: Any) -> RawSplits:
    """Load dataset ``name`` (a key of :data:`DATASETS`), passing ``kwargs`` to its loader."""
    try:
        loader = DATASETS[name]
    except (KeyError, TypeError):
        valid = ", ".join(sorted(DATASETS))
        raise ValueError(f"unknown dataset name {name!r}; valid names: {valid}") from None
    return loader(**kwargs)
