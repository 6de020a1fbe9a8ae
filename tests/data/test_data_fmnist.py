"""Tests for the Fashion-MNIST IDX loader (fixtures written in tmp_path; Debian copy if present)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from xmsem.data import fmnist
from xmsem.data.fmnist import load_fmnist

MEAN, STD = 0.2860, 0.3530


def _expected(images: np.ndarray) -> torch.Tensor:
    """Independent reference: pixels / 255, standardised, flattened (computed in float64)."""
    flat = images.reshape(images.shape[0], -1).astype(np.float64)
    return torch.from_numpy((flat / 255.0 - MEAN) / STD).float()


@pytest.mark.parametrize("gz", [False, True], ids=["raw", "gz"])
@pytest.mark.parametrize("layout", ["flat", "torchvision"])
def test_reads_idx_fixture_exactly(
    tmp_path: Path, idx_writer, no_system_fmnist: Path, gz: bool, layout: str
) -> None:
    folder = tmp_path if layout == "flat" else tmp_path / "FashionMNIST" / "raw"
    written = idx_writer(folder, gz=gz)
    data = load_fmnist(tmp_path, download=False)
    assert data.name == "fmnist" and data.num_classes == 10 and data.input_dim == 784
    assert data.x_train.shape == (12, 784) and data.x_test.shape == (7, 784)
    assert data.x_train.dtype == torch.float32 and data.y_train.dtype == torch.int64
    torch.testing.assert_close(data.x_train, _expected(written.train_images), rtol=0, atol=1e-6)
    torch.testing.assert_close(data.x_test, _expected(written.test_images), rtol=0, atol=1e-6)
    assert data.y_train.tolist() == written.train_labels.tolist()
    assert data.y_test.tolist() == written.test_labels.tolist()
    # Pixel 0 and pixel 255 land on the fixed Fashion-MNIST constants.
    assert data.x_train[0, 0].item() == pytest.approx(-0.8101983, abs=1e-6)
    assert data.x_train[1, 0].item() == pytest.approx(2.0226629, abs=1e-6)
    assert data.z_train is None and data.z_test is None


def test_data_dir_takes_precedence_over_system_copy(
    tmp_path: Path, idx_writer, monkeypatch: pytest.MonkeyPatch
) -> None:
    mine = idx_writer(tmp_path / "mine", seed=1)
    system = idx_writer(tmp_path / "system", n_train=5, n_test=3, gz=True, seed=2)
    monkeypatch.setattr(fmnist, "SYSTEM_FMNIST_DIR", system.folder)
    assert load_fmnist(mine.folder, download=False).y_train.tolist() == (mine.train_labels.tolist())
    from_system = load_fmnist(tmp_path / "empty", download=False)
    assert from_system.y_train.tolist() == system.train_labels.tolist()
    assert load_fmnist(None, download=False).x_test.shape == (3, 784)


def test_incomplete_data_dir_is_not_used(tmp_path: Path, idx_writer, no_system_fmnist) -> None:
    idx_writer(tmp_path)
    (tmp_path / "t10k-labels-idx1-ubyte").unlink()
    with pytest.raises(FileNotFoundError):
        load_fmnist(tmp_path, download=False)


def test_missing_everywhere_names_all_three_ways(tmp_path: Path, no_system_fmnist: Path) -> None:
    with pytest.raises(FileNotFoundError) as info:
        load_fmnist(tmp_path, download=False)
    message = str(info.value)
    assert "\n" not in message
    assert str(tmp_path) in message
    assert str(no_system_fmnist) in message
    assert "apt-get install dataset-fashion-mnist" in message
    assert "download=False" in message


def test_download_failure_is_reported_on_one_line(
    tmp_path: Path, no_system_fmnist, monkeypatch: pytest.MonkeyPatch
) -> None:
    def offline(root: Path) -> None:
        raise OSError("network unreachable\n(no route to host)")

    monkeypatch.setattr(fmnist, "_download_fmnist", offline)
    with pytest.raises(FileNotFoundError) as info:
        load_fmnist(tmp_path, download=True)
    message = str(info.value)
    assert "\n" not in message
    assert "download into" in message and "OSError: network unreachable (no route" in message
    assert "apt-get install dataset-fashion-mnist" in message


def test_no_download_without_data_dir(no_system_fmnist, monkeypatch) -> None:
    def must_not_run(root: Path) -> None:
        raise AssertionError("download attempted without data_dir")

    monkeypatch.setattr(fmnist, "_download_fmnist", must_not_run)
    with pytest.raises(FileNotFoundError, match="data_dir is None"):
        load_fmnist(None, download=True)


def test_download_then_read(tmp_path: Path, idx_writer, no_system_fmnist, monkeypatch) -> None:
    calls: list[Path] = []

    def fake_download(root: Path) -> None:  # lays files out as torchvision does
        calls.append(root)
        idx_writer(root / "FashionMNIST" / "raw", gz=True, seed=5)

    monkeypatch.setattr(fmnist, "_download_fmnist", fake_download)
    data = load_fmnist(tmp_path, download=True)
    assert calls == [tmp_path] and data.x_train.shape == (12, 784)
    load_fmnist(tmp_path, download=True)  # second call finds the files: no new download
    assert calls == [tmp_path]


def test_malformed_file_names_the_file(tmp_path: Path, idx_writer, no_system_fmnist) -> None:
    idx_writer(tmp_path)
    labels = (tmp_path / "train-labels-idx1-ubyte").read_bytes()
    (tmp_path / "train-images-idx3-ubyte").write_bytes(labels)  # a 1-D file where 3-D is due
    with pytest.raises(ValueError, match="train-images-idx3-ubyte is not a valid IDX images"):
        load_fmnist(tmp_path, download=False)


def test_image_label_count_mismatch(tmp_path: Path, idx_writer, no_system_fmnist) -> None:
    idx_writer(tmp_path, n_train=12)
    other = idx_writer(tmp_path / "other", n_train=9)
    (tmp_path / "train-labels-idx1-ubyte").write_bytes(
        (other.folder / "train-labels-idx1-ubyte").read_bytes()
    )
    with pytest.raises(ValueError, match="12 images but its label file 9"):
        load_fmnist(tmp_path, download=False)


@pytest.mark.skipif(
    not all((fmnist.SYSTEM_FMNIST_DIR / f"{n}.gz").is_file() for n in fmnist.IDX_FILES),
    reason="Debian package dataset-fashion-mnist not installed",
)
def test_reads_debian_system_copy(tmp_path: Path) -> None:
    data = load_fmnist(tmp_path / "nothing-here", download=False)
    assert data.x_train.shape == (60000, 784) and data.x_test.shape == (10000, 784)
    assert data.num_classes == 10
    assert torch.bincount(data.y_train).tolist() == [6000] * 10
    assert torch.bincount(data.y_test).tolist() == [1000] * 10
    # The fixed constants are the train-set statistics, so the result is standardised.
    assert abs(data.x_train.mean().item()) < 1e-3
    assert abs(data.x_train.std().item() - 1.0) < 1e-3
