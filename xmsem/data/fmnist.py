"""Fashion-MNIST from its four IDX files, read and format-checked by torchvision's IDX readers.

Where the files are looked for, in order (each place must hold all four files, plain or ``.gz``):

1. ``data_dir`` itself, then ``data_dir/FashionMNIST/raw`` (torchvision's layout);
2. :data:`SYSTEM_FMNIST_DIR`, where Debian's package ``dataset-fashion-mnist`` installs them
   (``apt-get install dataset-fashion-mnist``);
3. a torchvision download into ``data_dir/FashionMNIST/raw`` when ``download`` is true and
   ``data_dir`` is set.

``.gz`` files are decompressed into a temporary directory (deleted afterwards) because
torchvision's readers take plain file paths. Pixels are scaled to [0, 1], standardised with the
fixed Fashion-MNIST constants :data:`FMNIST_MEAN` / :data:`FMNIST_STD` and flattened to 784.
"""

from __future__ import annotations

import gzip
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # torch is imported where it is used: config validation reads the specs
    from torch import Tensor

from xmsem.data.spec import LOCATION, DatasetSpec, FileData, register_dataset
from xmsem.data.tensors import RawSplits

SYSTEM_FMNIST_DIR = Path("/usr/share/datasets/fashion-mnist")
SYSTEM_DIR_ENV = "XMSEM_FMNIST_DIR"  # points at another system copy (e.g. a shared cluster folder)
APT_PACKAGE = "dataset-fashion-mnist"
FMNIST_MEAN = 0.2860
FMNIST_STD = 0.3530
NUM_CLASSES = 10
IMAGE_SIZE = 28

TRAIN_IMAGES = "train-images-idx3-ubyte"
TRAIN_LABELS = "train-labels-idx1-ubyte"
TEST_IMAGES = "t10k-images-idx3-ubyte"
TEST_LABELS = "t10k-labels-idx1-ubyte"
IDX_FILES = (TRAIN_IMAGES, TRAIN_LABELS, TEST_IMAGES, TEST_LABELS)


def _one_line(err: BaseException) -> str:
    """``type: message`` of an exception squeezed onto one line."""
    return f"{type(err).__name__}: {' '.join(str(err).split())}"


def _resolve_files(folder: Path) -> dict[str, Path] | None:
    """Map each IDX base name to its file in ``folder`` (plain preferred over ``.gz``), or None."""
    found: dict[str, Path] = {}
    for base in IDX_FILES:
        for candidate in (folder / base, folder / f"{base}.gz"):
            if candidate.is_file():
                found[base] = candidate
                break
        else:
            return None
    return found


def system_folder(override: str | Path | None = None) -> Path:
    """The system copy's folder: ``override`` (config ``data.system_dir``), else
    ``$XMSEM_FMNIST_DIR``, else :data:`SYSTEM_FMNIST_DIR`."""
    chosen = override or os.environ.get(SYSTEM_DIR_ENV) or SYSTEM_FMNIST_DIR
    return Path(chosen).expanduser()


def candidate_dirs(data_dir: str | Path | None, system: str | Path | None = None) -> list[Path]:
    """Folders searched for the IDX files, in order (before any download)."""
    dirs: list[Path] = []
    if data_dir is not None:
        root = Path(data_dir).expanduser()
        dirs += [root, root / "FashionMNIST" / "raw"]
    dirs.append(system_folder(system))
    return dirs


def find_fmnist_files(
    data_dir: str | Path | None, system: str | Path | None = None
) -> dict[str, Path] | None:
    """The four IDX files from the first folder of :func:`candidate_dirs` holding all of them."""
    for folder in candidate_dirs(data_dir, system):
        files = _resolve_files(folder)
        if files is not None:
            return files
    return None


def _download_fmnist(root: Path) -> None:
    """Download Fashion-MNIST with torchvision into ``root/FashionMNIST/raw``."""
    from torchvision.datasets import FashionMNIST

    FashionMNIST(root=str(root), train=True, download=True)


def _read_idx(path: Path, kind: str, scratch: Path) -> Tensor:
    """Read an IDX ``kind`` ("images" or "labels") file with torchvision, decompressing .gz."""
    from torchvision.datasets.mnist import read_image_file, read_label_file

    if path.suffix == ".gz":
        plain = scratch / path.stem
        with gzip.open(path, "rb") as src, open(plain, "wb") as dst:
            shutil.copyfileobj(src, dst, length=1 << 22)
        path = plain
    reader = read_image_file if kind == "images" else read_label_file
    try:
        return reader(str(path))
    except (AssertionError, TypeError, ValueError, KeyError, RuntimeError, OSError) as err:
        raise ValueError(f"{path} is not a valid IDX {kind} file ({_one_line(err)})") from err


def _to_split(images: Tensor, labels: Tensor, images_path: Path) -> tuple[Tensor, Tensor]:
    """Check one split and turn uint8 images (N, 28, 28) into standardised float32 (N, 784)."""
    import torch

    if tuple(images.shape[1:]) != (IMAGE_SIZE, IMAGE_SIZE):
        raise ValueError(
            f"{images_path} holds images of shape {tuple(images.shape[1:])}, expected (28, 28)"
        )
    if images.shape[0] != labels.shape[0]:
        raise ValueError(
            f"{images_path} holds {images.shape[0]} images but its label file {labels.shape[0]}"
        )
    if labels.numel() and (labels.min() < 0 or labels.max() >= NUM_CLASSES):
        raise ValueError(f"labels for {images_path} must lie in [0, {NUM_CLASSES - 1}]")
    x = images.reshape(images.shape[0], -1).to(torch.float32).div_(255.0)
    x.sub_(FMNIST_MEAN).div_(FMNIST_STD)
    return x, labels.to(torch.int64)


def read_fmnist_files(files: dict[str, Path]) -> RawSplits:
    """Read the four IDX files (keys: the names in :data:`IDX_FILES`) into a RawSplits."""
    with tempfile.TemporaryDirectory(prefix="xmsem-fmnist-") as tmp:
        scratch = Path(tmp)
        tensors = {
            base: _read_idx(path, "images" if "images" in base else "labels", scratch)
            for base, path in files.items()
        }
    x_train, y_train = _to_split(tensors[TRAIN_IMAGES], tensors[TRAIN_LABELS], files[TRAIN_IMAGES])
    x_test, y_test = _to_split(tensors[TEST_IMAGES], tensors[TEST_LABELS], files[TEST_IMAGES])
    return RawSplits(x_train, y_train, x_test, y_test, num_classes=NUM_CLASSES, name="fmnist",
                     image_shape=(1, IMAGE_SIZE, IMAGE_SIZE))  # fmt: skip


def load_fmnist(
    data_dir: str | Path | None, download: bool = True, system_dir: str | Path | None = None
) -> RawSplits:
    """Load Fashion-MNIST (60000 train / 10000 test, 784 features, 10 classes).

    Reads from ``data_dir`` (directly or ``data_dir/FashionMNIST/raw``), else from
    :data:`SYSTEM_FMNIST_DIR` (Debian package ``dataset-fashion-mnist``), else downloads with
    torchvision into ``data_dir`` if ``download`` is true. Raises FileNotFoundError with one line
    naming all three ways if none works, and ValueError naming the file if a file is malformed.
    ``system_dir`` (or ``$XMSEM_FMNIST_DIR``) replaces the system folder.
    """
    system = system_dir
    files = find_fmnist_files(data_dir, system)
    if files is not None:
        return read_fmnist_files(files)
    if data_dir is None:
        download_note = "no download attempted because data_dir is None"
    elif not download:
        download_note = "download is off (download=False)"
    else:
        root = Path(data_dir).expanduser()
        raw = root / "FashionMNIST" / "raw"
        try:
            _download_fmnist(root)
        except Exception as err:  # any download failure becomes part of the message below
            download_note = f"download into {root} failed ({_one_line(err)})"
        else:
            files = _resolve_files(raw)
            if files is not None:
                return read_fmnist_files(files)
            download_note = f"download left no IDX files in {raw}"
    searched = ", ".join(str(d) for d in candidate_dirs(data_dir)[:-1]) or "data_dir=None"
    raise FileNotFoundError(
        f"Fashion-MNIST IDX files not found: (1) data_dir searched: {searched}; "
        f"(2) no system copy in {system_folder(system)} (install it with "
        f"'apt-get install {APT_PACKAGE}', or point data.system_dir / ${SYSTEM_DIR_ENV} at "
        f"one); (3) {download_note}"
    )


@dataclass
class FmnistData(FileData):
    """Schema of ``data`` for Fashion-MNIST (conf/data/fmnist.yaml)."""

    # another system copy; default $XMSEM_FMNIST_DIR, else /usr/share/datasets/fashion-mnist
    system_dir: str | None = field(default=None, metadata=LOCATION)


FMNIST = register_dataset(DatasetSpec(
    "fmnist", load_fmnist, FmnistData, test_size=10000,
    doc="Fashion-MNIST: data_dir, the system copy, or a torchvision download",
))  # fmt: skip
