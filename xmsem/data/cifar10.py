"""CIFAR-10 in torchvision's on-disk format, read (and downloaded) by torchvision.

Reads ``data_dir/cifar-10-batches-py/`` (``data_batch_1`` .. ``data_batch_5``, ``test_batch``,
``batches.meta``; ``data_dir`` may also be that folder itself). With ``verify=True`` (default)
``torchvision.datasets.CIFAR10`` checks the md5 of every file against the official release, so
only the real dataset loads. ``verify=False`` reads the same files through a thin subclass that
only checks that the files exist (no md5): for small fixture files and re-packed copies.
Images are scaled to [0, 1], normalised per channel with :data:`CIFAR10_MEAN` /
:data:`CIFAR10_STD` and flattened to 3072 features in (C, H, W) order.

torchvision is imported on first use, so importing this module stays cheap.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # torch is imported where it is used: config validation reads the specs
    from torch import Tensor

from xmsem.data.spec import DatasetSpec, FileData, register_dataset
from xmsem.data.tensors import RawSplits

BASE_FOLDER = "cifar-10-batches-py"
BATCH_FILES = (*(f"data_batch_{i}" for i in range(1, 6)), "test_batch", "batches.meta")
CIFAR10_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR10_STD = (0.2470, 0.2435, 0.2616)
NUM_CLASSES = 10


def _one_line(err: BaseException) -> str:
    """``type: message`` of an exception squeezed onto one line."""
    return f"{type(err).__name__}: {' '.join(str(err).split())}"


@functools.cache
def _cifar10_class(verify: bool) -> type:
    """torchvision's CIFAR10, or (``verify=False``) a subclass that skips the md5 checks."""
    from torchvision.datasets import CIFAR10

    if verify:
        return CIFAR10

    class UnverifiedCIFAR10(CIFAR10):
        """CIFAR10 that accepts any batch files in the right pickle format (no md5 check)."""

        def _check_integrity(self) -> bool:
            folder = Path(self.root) / self.base_folder
            return all((folder / name).is_file() for name, _ in self.train_list + self.test_list)

        def _load_meta(self) -> None:
            import pickle

            with open(Path(self.root) / self.base_folder / self.meta["filename"], "rb") as f:
                self.classes = pickle.load(f, encoding="latin1")[self.meta["key"]]
            self.class_to_idx = {name: i for i, name in enumerate(self.classes)}

    return UnverifiedCIFAR10


def _download_cifar10(root: Path) -> None:
    """Download and extract CIFAR-10 with torchvision into ``root/cifar-10-batches-py``."""
    from torchvision.datasets import CIFAR10

    CIFAR10(root=str(root), train=False, download=True)


def _root_of(data_dir: Path) -> Path:
    """The torchvision ``root`` for ``data_dir`` (accepts the batches folder itself)."""
    return data_dir.parent if data_dir.name == BASE_FOLDER else data_dir


def _missing_files(root: Path) -> list[str]:
    """Names of the CIFAR-10 files absent from ``root/cifar-10-batches-py``."""
    return [name for name in BATCH_FILES if not (root / BASE_FOLDER / name).is_file()]


def _to_split(dataset: Any, batch_dir: Path) -> tuple[Tensor, Tensor]:
    """Turn a torchvision CIFAR10 (uint8 HWC images) into float32 (N, 3072) CHW + int64 labels."""
    import torch

    images = torch.from_numpy(dataset.data).permute(0, 3, 1, 2).to(torch.float32).div_(255.0)
    mean = torch.tensor(CIFAR10_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(CIFAR10_STD).view(1, 3, 1, 1)
    x = images.sub_(mean).div_(std).reshape(images.shape[0], -1)
    y = torch.as_tensor(dataset.targets, dtype=torch.int64)
    if y.numel() and (y.min() < 0 or y.max() >= NUM_CLASSES):
        raise ValueError(f"labels in {batch_dir} must lie in [0, {NUM_CLASSES - 1}]")
    return x, y


def load_cifar10(
    data_dir: str | Path | None, download: bool = True, verify: bool = True
) -> RawSplits:
    """Load CIFAR-10 (50000 train / 10000 test, 3072 features, 10 classes).

    Reads ``data_dir/cifar-10-batches-py`` with torchvision; if files are missing and
    ``download`` is true, torchvision downloads them into ``data_dir`` first. ``verify=False``
    skips torchvision's md5 checks (see the module docstring). Raises FileNotFoundError (one
    line naming ``data_dir`` and the download option) when the files are missing, and
    RuntimeError when present files fail the md5 check.
    """
    if data_dir is None:
        raise FileNotFoundError(
            "CIFAR-10 needs data_dir (a folder holding cifar-10-batches-py/, or where to download "
            "it with download=True); got data_dir=None"
        )
    root = _root_of(Path(data_dir).expanduser())
    batch_dir = root / BASE_FOLDER
    missing = _missing_files(root)
    if missing and download:
        try:
            _download_cifar10(root)
        except Exception as err:  # any download failure becomes part of the message below
            raise FileNotFoundError(
                f"CIFAR-10 files missing from {batch_dir} ({', '.join(missing)}) and the "
                f"torchvision download into {root} failed ({_one_line(err)})"
            ) from err
        missing = _missing_files(root)
    if missing:
        raise FileNotFoundError(
            f"CIFAR-10 files missing from {batch_dir} ({', '.join(missing)}); put torchvision's "
            f"cifar-10-batches-py/ under data_dir={root} or pass download=True "
            f"(download={download})"
        )
    try:
        # Verify (md5 over all batch files) once, then read the test split without re-hashing.
        train = _cifar10_class(verify)(root=str(root), train=True)
        test = _cifar10_class(False)(root=str(root), train=False)
    except RuntimeError as err:
        raise RuntimeError(
            f"CIFAR-10 files in {batch_dir} fail torchvision's md5 check ({_one_line(err)}); "
            "re-download them, or pass verify=False for files that are not the official release"
        ) from err
    x_train, y_train = _to_split(train, batch_dir)
    x_test, y_test = _to_split(test, batch_dir)
    return RawSplits(x_train, y_train, x_test, y_test, num_classes=NUM_CLASSES, name="cifar10",
                     image_shape=(3, 32, 32))  # fmt: skip


CIFAR10 = register_dataset(DatasetSpec(
    "cifar10", load_cifar10, FileData, test_size=10000,
    doc="CIFAR-10 in torchvision's format, or a torchvision download",
))  # fmt: skip
