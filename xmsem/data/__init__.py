"""Datasets as tensors: raw loaders (synthetic, fmnist, cifar10), each registered as a
:class:`DatasetSpec`, and the tensor DataModule."""

from typing import Any

from xmsem.data.registry import DATASETS, get_dataset, load_raw
from xmsem.data.spec import DataCommon, DatasetSpec, register_dataset
from xmsem.data.tensors import RawSplits

__all__ = [
    "DATASETS",
    "DataCommon",
    "DatasetSpec",
    "ProbeSet",
    "RawSplits",
    "ShuffledBatches",
    "TensorDataModule",
    "get_dataset",
    "load_raw",
    "register_dataset",
]

_LIGHTNING = ("ProbeSet", "ShuffledBatches", "TensorDataModule")


def __getattr__(name: str) -> Any:
    """The DataModule names on first use (PEP 562): config validation reads the dataset specs
    here without importing Lightning."""
    if name in _LIGHTNING:
        from xmsem.data import datamodule

        return getattr(datamodule, name)
    raise AttributeError(f"module 'xmsem.data' has no attribute {name!r}")
