"""Tests for the dataset registry and the RawSplits contract."""

from __future__ import annotations

import pytest
import torch

from xmsem.data.registry import DATASETS, load_raw
from xmsem.data.synthetic import load_synthetic
from xmsem.data.tensors import RawSplits


def test_registry_names() -> None:
    assert set(DATASETS) == {"synthetic", "fmnist", "cifar10"}


def test_load_raw_forwards_kwargs() -> None:
    via_registry = load_raw("synthetic", n_train=40, n_test=10, seed=5)
    direct = load_synthetic(n_train=40, n_test=10, seed=5)
    assert torch.equal(via_registry.x_train, direct.x_train)
    assert torch.equal(via_registry.y_test, direct.y_test)


def test_unknown_name_lists_valid_names() -> None:
    with pytest.raises(ValueError, match=r"'mnist'; valid names: cifar10, fmnist, synthetic$"):
        load_raw("mnist")


def _splits(**overrides: object) -> RawSplits:
    fields: dict = {
        "x_train": torch.zeros(4, 3),
        "y_train": torch.zeros(4, dtype=torch.int64),
        "x_test": torch.zeros(2, 3),
        "y_test": torch.zeros(2, dtype=torch.int64),
        "num_classes": 2,
        "name": "toy",
    }
    fields.update(overrides)
    return RawSplits(**fields)


def test_raw_splits_input_dim() -> None:
    assert _splits().input_dim == 3


@pytest.mark.parametrize(
    ("overrides", "match"),
    [
        ({"x_train": torch.zeros(4, 3, dtype=torch.float64)}, "x_train must be a float32"),
        ({"y_test": torch.zeros(2, dtype=torch.int32)}, "y_test must be an int64"),
        ({"y_train": torch.zeros(5, dtype=torch.int64)}, "x_train has 4 rows but y_train has 5"),
        ({"x_test": torch.zeros(2, 4)}, "x_train has 3 features but x_test has 4"),
        ({"num_classes": 1}, "num_classes must be >= 2"),
        ({"z_test": torch.zeros(3, 2)}, "z_test must be"),
    ],
)
def test_raw_splits_rejects_inconsistent_tensors(overrides: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        _splits(**overrides)
