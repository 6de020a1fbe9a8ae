"""Datasets held as tensors on the training device; batches are slices of a seeded permutation.

No per-sample transforms, no worker processes: the whole split lives on the device and a batch is
``x[perm[i:i + batch_size]]``. The permutation of epoch ``e`` comes from a generator seeded with
``(seed, e)``, so a run resumed at epoch ``e`` sees exactly the batches an uninterrupted run sees.

Splits: the train/val split and the probe set are drawn with their own fixed generator
(``split_seed``), independent of the run seed, so every run and seed of a dataset shares them.
The probe set is a fixed prefix of a permutation of the test split (so a smaller probe set is a
subset of a larger one); its first half is the *fit* half (probes, maps, stitches are fitted
there) and its second half the *eval* half (they are scored there).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import lightning as L
import torch
from torch import Tensor

from xmsem.data.tensors import RawSplits

_EPOCH_STRIDE = 1_000_003  # seed * stride + epoch: distinct streams for every (seed, epoch)


def order_seed(seed: int, copy: int) -> int:
    """Seed of the batch order of ensemble copy ``copy``: the run seed for copy 0 (the order of a
    plain run), sha256("seed:order:k") mod 2^31 for copy k > 0."""
    if copy == 0:
        return seed
    digest = hashlib.sha256(f"{seed}:order:{copy}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % (2**31)


def epoch_permutation(n: int, seed: int, epoch: int) -> Tensor:
    """The training permutation of epoch ``epoch`` for order seed ``seed`` (CPU, int64)."""
    gen = torch.Generator().manual_seed(seed * _EPOCH_STRIDE + epoch)
    return torch.randperm(n, generator=gen)


def shuffled_labels(y: Tensor, seed: int) -> Tensor:
    """``y`` under a fixed random permutation seeded by the run seed: the labels of a
    shuffled-label control member (same label counts, no relation to the inputs)."""
    digest = hashlib.sha256(f"{seed}:labels".encode()).digest()
    gen = torch.Generator().manual_seed(int.from_bytes(digest[:8], "big") % (2**31))
    return y[torch.randperm(len(y), generator=gen).to(y.device)]


class ShuffledBatches:
    """Iterable of ``(x, y)`` minibatches: slices of a permutation seeded by (seed, epoch).

    ``y_shuffled`` (when given) is yielded as a third element, sliced like ``y``. With
    ``per_copy``, copy ``first_copy + k`` reads its own permutation (seed ``order_seed(seed,
    first_copy + k)``); with ``copies > 1`` every element then gains a leading copy dimension:
    ``x`` ``(K, B, D)``, ``y`` ``(K, B)``. One copy keeps plain batches in its own order, so
    ``copies=1, first_copy=k`` is exactly what copy k of an ensemble reads.
    """

    def __init__(
        self,
        x: Tensor,
        y: Tensor,
        batch_size: int,
        seed: int | None,
        epoch_fn: Callable[[], int] | None,
        y_shuffled: Tensor | None = None,
        copies: int = 1,
        per_copy: bool = False,
        first_copy: int = 0,
    ) -> None:
        self.x, self.y, self.batch_size = x, y, batch_size
        self.seed, self.epoch_fn = seed, epoch_fn
        self.y_shuffled = y_shuffled
        self.copies, self.first_copy = copies, first_copy
        self.per_copy = per_copy and seed is not None

    def __len__(self) -> int:
        return -(-len(self.x) // self.batch_size)

    def _order(self) -> Tensor:
        n = len(self.x)
        if self.seed is None:  # evaluation order
            return torch.arange(n, device=self.x.device)
        epoch = self.epoch_fn() if self.epoch_fn is not None else 0
        if not self.per_copy:
            return epoch_permutation(n, self.seed, epoch).to(self.x.device)
        seeds = [order_seed(self.seed, self.first_copy + k) for k in range(self.copies)]
        perms = [epoch_permutation(n, s, epoch) for s in seeds]
        return (torch.stack(perms) if self.copies > 1 else perms[0]).to(self.x.device)

    def __iter__(self) -> Iterator[tuple[Tensor, ...]]:
        order = self._order()
        n = len(self.x)
        tensors = (self.x, self.y) if self.y_shuffled is None else (self.x, self.y, self.y_shuffled)
        for start in range(0, n, self.batch_size):
            idx = order[..., start : start + self.batch_size]
            yield tuple(t[idx] for t in tensors)


@dataclass
class ProbeSet:
    """The fixed probe inputs every snapshot is taken on (indices into the test split)."""

    indices: Tensor  # int64 (n,) into the test split
    x: Tensor
    y: Tensor
    z: Tensor | None  # latent factors (synthetic only)

    @property
    def n_fit(self) -> int:
        """Size of the fit half (the first half of the probe set)."""
        return len(self.indices) // 2

    def fit_slice(self) -> slice:
        return slice(0, self.n_fit)

    def eval_slice(self) -> slice:
        return slice(self.n_fit, len(self.indices))


def split_indices(n: int, val_size: int, split_seed: int) -> tuple[Tensor, Tensor]:
    """Fixed (train, val) index split of ``n`` examples; depends on ``split_seed`` only."""
    if not 0 < val_size < n:
        raise ValueError(f"data.val_size={val_size} must be in [1, {n}) for this dataset")
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(split_seed))
    return perm[val_size:].sort().values, perm[:val_size].sort().values


def probe_indices(n_test: int, size: int | None, split_seed: int) -> Tensor:
    """The first ``size`` entries of a fixed permutation of the test split (all when None)."""
    size = n_test if size is None else size
    if not 4 <= size <= n_test:
        raise ValueError(
            f"callbacks.representations.probe_size={size} must be in [4, {n_test}] "
            "(the test split's size) or null for the whole test split"
        )
    gen = torch.Generator().manual_seed(split_seed + 7919)
    return torch.randperm(n_test, generator=gen)[:size]


class TensorDataModule(L.LightningDataModule):
    """LightningDataModule over a :class:`RawSplits`, with every split as tensors on the device.

    ``loader`` is called once (lazily, in :meth:`prepare`) and must return the raw splits.
    """

    def __init__(
        self,
        loader: Callable[[], RawSplits],
        batch_size: int,
        val_size: int,
        split_seed: int,
        seed: int | None,
        eval_batch_size: int = 2048,
        copies: int = 1,
        data_order: str = "same",
        shuffled_labels: bool = False,
        first_copy: int = 0,
    ) -> None:
        super().__init__()
        self.copies, self.data_order, self.first_copy = copies, data_order, first_copy
        self.with_shuffled_labels = shuffled_labels
        self.train_y_shuffled: Tensor | None = None
        self._loader = loader
        self.batch_size, self.val_size, self.split_seed = batch_size, val_size, split_seed
        self.seed = seed if seed is not None else 0
        self.eval_batch_size = eval_batch_size
        self.raw: RawSplits | None = None
        self._device: torch.device | None = None
        self.train_x = self.train_y = self.val_x = self.val_y = None
        self.test_x = self.test_y = None

    # -- loading ---------------------------------------------------------------------------
    def prepare(self) -> RawSplits:
        """Load the raw splits once (errors for missing files surface here, before training)."""
        if self.raw is None:
            self.raw = self._loader()
            train_idx, val_idx = split_indices(
                len(self.raw.x_train), self.val_size, self.split_seed
            )
            self._train_idx, self._val_idx = train_idx, val_idx
        return self.raw

    @property
    def input_dim(self) -> int:
        return self.prepare().input_dim

    @property
    def num_classes(self) -> int:
        return self.prepare().num_classes

    def setup(self, stage: str | None = None) -> None:
        raw = self.prepare()
        device = (
            self.trainer.strategy.root_device if self.trainer is not None else torch.device("cpu")
        )
        if self._device == device and self.train_x is not None:
            return
        self._device = device
        self.train_x = raw.x_train[self._train_idx].to(device)
        self.train_y = raw.y_train[self._train_idx].to(device)
        self.val_x = raw.x_train[self._val_idx].to(device)
        self.val_y = raw.y_train[self._val_idx].to(device)
        self.test_x, self.test_y = raw.x_test.to(device), raw.y_test.to(device)
        if self.with_shuffled_labels:
            self.train_y_shuffled = shuffled_labels(self.train_y, self.seed)

    def probe_set(self, size: int | None, device: torch.device | str = "cpu") -> ProbeSet:
        """The fixed probe set of ``size`` test examples (whole test split when None)."""
        raw = self.prepare()
        idx = probe_indices(len(raw.x_test), size, self.split_seed)
        z = raw.z_test[idx].to(device) if raw.z_test is not None else None
        return ProbeSet(idx, raw.x_test[idx].to(device), raw.y_test[idx].to(device), z)

    # -- loaders -----------------------------------------------------------------------------
    def _epoch(self) -> int:
        return self.trainer.current_epoch if self.trainer is not None else 0

    def train_dataloader(self) -> ShuffledBatches:
        return ShuffledBatches(
            self.train_x, self.train_y, self.batch_size, self.seed, self._epoch,
            y_shuffled=self.train_y_shuffled, copies=self.copies,
            per_copy=self.data_order == "per_copy", first_copy=self.first_copy,
        )  # fmt: skip

    def val_dataloader(self) -> ShuffledBatches:
        return ShuffledBatches(self.val_x, self.val_y, self.eval_batch_size, None, None)

    def test_dataloader(self) -> ShuffledBatches:
        return ShuffledBatches(self.test_x, self.test_y, self.eval_batch_size, None, None)
