"""Tests for the CIFAR-10 loader on small batch files in torchvision's pickle format."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from xmsem.data import cifar10
from xmsem.data.cifar10 import load_cifar10

MEAN = np.array([0.4914, 0.4822, 0.4465])
STD = np.array([0.2470, 0.2435, 0.2616])


def _expected(rows: np.ndarray) -> torch.Tensor:
    """Independent reference: CHW rows / 255, normalised per channel, in float64."""
    chw = rows.reshape(rows.shape[0], 3, 1024).astype(np.float64) / 255.0
    normalised = (chw - MEAN[None, :, None]) / STD[None, :, None]
    return torch.from_numpy(normalised.reshape(rows.shape[0], 3072)).float()


def test_reads_fixture_batches(tmp_path: Path, cifar_writer) -> None:
    written = cifar_writer(tmp_path, per_batch=20, n_test=20)
    data = load_cifar10(tmp_path, download=False, verify=False)
    assert data.name == "cifar10" and data.num_classes == 10 and data.input_dim == 3072
    assert data.x_train.shape == (100, 3072) and data.x_test.shape == (20, 3072)
    assert data.x_train.dtype == torch.float32 and data.y_train.dtype == torch.int64
    assert data.y_train.tolist() == written.train_labels.tolist()
    assert data.y_test.tolist() == written.test_labels.tolist()
    torch.testing.assert_close(data.x_train, _expected(written.train_data), rtol=0, atol=1e-5)
    torch.testing.assert_close(data.x_test, _expected(written.test_data), rtol=0, atol=1e-5)


def test_channel_order_is_chw(tmp_path: Path, cifar_writer) -> None:
    cifar_writer(tmp_path, per_batch=4, n_test=3)
    first = load_cifar10(tmp_path, download=False, verify=False).x_train[0]
    red, green, blue = first[:1024], first[1024:2048], first[2048:]
    assert torch.allclose(red, torch.full((1024,), (1.0 - 0.4914) / 0.2470))
    assert torch.allclose(green, torch.full((1024,), -0.4822 / 0.2435))
    assert torch.allclose(blue, torch.full((1024,), (128 / 255 - 0.4465) / 0.2616))


def test_batches_folder_itself_is_accepted(tmp_path: Path, cifar_writer) -> None:
    cifar_writer(tmp_path, per_batch=4, n_test=3)
    data = load_cifar10(tmp_path / "cifar-10-batches-py", download=False, verify=False)
    assert data.x_train.shape == (20, 3072) and data.x_test.shape == (3, 3072)


def test_verify_rejects_non_official_files(tmp_path: Path, cifar_writer) -> None:
    cifar_writer(tmp_path, per_batch=4, n_test=3)
    with pytest.raises(RuntimeError, match="md5.*verify=False") as info:
        load_cifar10(tmp_path, download=False)
    assert "\n" not in str(info.value)


def test_missing_files_name_dir_and_download(tmp_path: Path, cifar_writer) -> None:
    cifar_writer(tmp_path, per_batch=4, n_test=3)
    (tmp_path / "cifar-10-batches-py" / "data_batch_3").unlink()
    with pytest.raises(FileNotFoundError) as info:
        load_cifar10(tmp_path, download=False, verify=False)
    message = str(info.value)
    assert "\n" not in message
    assert str(tmp_path / "cifar-10-batches-py") in message and "data_batch_3" in message
    assert "download=True" in message


def test_missing_data_dir(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="data_dir=None"):
        load_cifar10(None)


def test_download_failure_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[Path] = []

    def offline(root: Path) -> None:
        calls.append(root)
        raise RuntimeError("Error downloading cifar-10-python.tar.gz:\nname not known")

    monkeypatch.setattr(cifar10, "_download_cifar10", offline)
    with pytest.raises(FileNotFoundError) as info:
        load_cifar10(tmp_path, download=True)
    message = str(info.value)
    assert calls == [tmp_path]
    assert "\n" not in message and str(tmp_path) in message
    assert "download" in message and "name not known" in message


def test_download_then_read(tmp_path: Path, cifar_writer, monkeypatch) -> None:
    calls: list[Path] = []

    def fake_download(root: Path) -> None:  # lays files out as torchvision does
        calls.append(root)
        cifar_writer(root, per_batch=4, n_test=3)

    monkeypatch.setattr(cifar10, "_download_cifar10", fake_download)
    data = load_cifar10(tmp_path, download=True, verify=False)
    assert data.x_train.shape == (20, 3072) and calls == [tmp_path]
    load_cifar10(tmp_path, download=True, verify=False)  # files present now: no new download
    assert calls == [tmp_path]


def test_out_of_range_label(tmp_path: Path, cifar_writer) -> None:
    import pickle

    cifar_writer(tmp_path, per_batch=4, n_test=3)
    path = tmp_path / "cifar-10-batches-py" / "test_batch"
    entry = pickle.loads(path.read_bytes())
    entry["labels"][0] = 10
    path.write_bytes(pickle.dumps(entry))
    with pytest.raises(ValueError, match=r"labels in .* must lie in \[0, 9\]"):
        load_cifar10(tmp_path, download=False, verify=False)
