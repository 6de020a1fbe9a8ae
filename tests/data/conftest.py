"""Fixture writers for the raw-loader tests: tiny IDX files and CIFAR-10 pickle batches."""

from __future__ import annotations

import gzip
import pickle
import struct
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

IDX_NAMES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}


@dataclass
class IdxFixture:
    """What was written: uint8 images (N, 28, 28) and labels (N,) per split, and the folder."""

    folder: Path
    train_images: np.ndarray
    train_labels: np.ndarray
    test_images: np.ndarray
    test_labels: np.ndarray


def _idx_images(images: np.ndarray) -> bytes:
    n, h, w = images.shape
    return struct.pack(">IIII", 2051, n, h, w) + images.astype(np.uint8).tobytes()


def _idx_labels(labels: np.ndarray) -> bytes:
    return struct.pack(">II", 2049, labels.shape[0]) + labels.astype(np.uint8).tobytes()


def write_idx_files(
    folder: Path, n_train: int = 12, n_test: int = 7, gz: bool = False, seed: int = 0
) -> IdxFixture:
    """Write the four Fashion-MNIST IDX files (plain or .gz) with random content into folder."""
    rng = np.random.default_rng(seed)
    fixture = IdxFixture(
        folder=folder,
        train_images=rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        train_labels=rng.integers(0, 10, n_train, dtype=np.uint8),
        test_images=rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        test_labels=rng.integers(0, 10, n_test, dtype=np.uint8),
    )
    fixture.train_images[0] = 0  # exact extremes to check the normalisation constants
    fixture.train_images[1] = 255
    folder.mkdir(parents=True, exist_ok=True)
    for key, base in IDX_NAMES.items():
        array = getattr(fixture, key)
        payload = _idx_images(array) if key.endswith("images") else _idx_labels(array)
        if gz:
            (folder / f"{base}.gz").write_bytes(gzip.compress(payload))
        else:
            (folder / base).write_bytes(payload)
    return fixture


@dataclass
class CifarFixture:
    """What was written: raw rows (N, 3072) uint8 in CHW order and labels, per split."""

    root: Path
    train_data: np.ndarray
    train_labels: np.ndarray
    test_data: np.ndarray
    test_labels: np.ndarray


def write_cifar_batches(root: Path, per_batch: int = 20, n_test: int = 20) -> CifarFixture:
    """Write data_batch_1..5, test_batch and batches.meta in torchvision's pickle format."""
    rng = np.random.default_rng(7)
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    train_parts, label_parts = [], []
    for i in range(1, 6):
        data = rng.integers(0, 256, (per_batch, 3072), dtype=np.uint8)
        labels = rng.integers(0, 10, per_batch).tolist()
        if i == 1:  # a pure-colour first image pins the channel order: R=255, G=0, B=128
            data[0, :1024], data[0, 1024:2048], data[0, 2048:] = 255, 0, 128
        entry = {"batch_label": f"training batch {i} of 5", "labels": labels, "data": data}
        (folder / f"data_batch_{i}").write_bytes(pickle.dumps(entry))
        train_parts.append(data)
        label_parts += labels
    test = rng.integers(0, 256, (n_test, 3072), dtype=np.uint8)
    test_labels = rng.integers(0, 10, n_test).tolist()
    entry = {"batch_label": "testing batch 1 of 1", "labels": test_labels, "data": test}
    (folder / "test_batch").write_bytes(pickle.dumps(entry))
    names = ["airplane", "automobile", "bird", "cat", "deer"]
    names += ["dog", "frog", "horse", "ship", "truck"]
    meta = {"label_names": names, "num_cases_per_batch": per_batch, "num_vis": 3072}
    (folder / "batches.meta").write_bytes(pickle.dumps(meta))
    return CifarFixture(
        root=root,
        train_data=np.concatenate(train_parts),
        train_labels=np.array(label_parts),
        test_data=test,
        test_labels=np.array(test_labels),
    )


@pytest.fixture
def idx_writer() -> Callable[..., IdxFixture]:
    """The IDX fixture writer (see :func:`write_idx_files`)."""
    return write_idx_files


@pytest.fixture
def cifar_writer() -> Callable[..., CifarFixture]:
    """The CIFAR-10 batch writer (see :func:`write_cifar_batches`)."""
    return write_cifar_batches


@pytest.fixture
def no_system_fmnist(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """Point the Debian system copy at an empty, nonexistent folder; returns that path."""
    from xmsem.data import fmnist

    missing = tmp_path / "no-system-copy"
    monkeypatch.setattr(fmnist, "SYSTEM_FMNIST_DIR", missing)
    return missing
