"""Datasets as tensors: raw loaders (synthetic, fmnist, cifar10), each registered as a
:class:`DatasetSpec`, and the tensor DataModule."""

from xmsem.data.datamodule import ProbeSet, ShuffledBatches, TensorDataModule
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
