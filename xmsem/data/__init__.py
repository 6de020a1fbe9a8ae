"""Datasets as tensors: raw loaders (synthetic, fmnist, cifar10) and the tensor DataModule."""

from xmsem.data.datamodule import ProbeSet, ShuffledBatches, TensorDataModule
from xmsem.data.registry import DATASETS, load_raw
from xmsem.data.tensors import RawSplits

__all__ = ["DATASETS", "ProbeSet", "RawSplits", "ShuffledBatches", "TensorDataModule", "load_raw"]
