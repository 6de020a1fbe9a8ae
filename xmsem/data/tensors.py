"""The in-memory return type shared by every raw dataset loader."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # torch is imported where it is used: config validation reads the specs
    from torch import Tensor


def _check_pair(x: Tensor, y: Tensor, split: str) -> None:
    """Raise ValueError (one line) if ``x``/``y`` of ``split`` break the RawSplits contract."""
    import torch

    if x.dim() != 2 or x.dtype != torch.float32:
        raise ValueError(
            f"x_{split} must be a float32 (N, D) tensor, got {x.dtype} with shape {tuple(x.shape)}"
        )
    if y.dim() != 1 or y.dtype != torch.int64:
        raise ValueError(
            f"y_{split} must be an int64 (N,) tensor, got {y.dtype} with shape {tuple(y.shape)}"
        )
    if x.shape[0] != y.shape[0]:
        raise ValueError(f"x_{split} has {x.shape[0]} rows but y_{split} has {y.shape[0]} labels")


@dataclass
class RawSplits:
    """A dataset held as whole-split tensors.

    ``x_*`` are float32 ``(N, D)`` (flattened, normalised), ``y_*`` are int64 ``(N,)`` class
    indices in ``[0, num_classes)``. ``z_*`` are the latent factors of the synthetic task
    (``None`` for real datasets). ``image_shape`` is the shape of one example before flattening
    (``(C, H, W)`` for image datasets, ``None`` for vector data): image models (``cnn`` and
    ``_target_`` members) receive their inputs reshaped to it.
    """

    x_train: Tensor
    y_train: Tensor
    x_test: Tensor
    y_test: Tensor
    num_classes: int
    name: str
    z_train: Tensor | None = None
    z_test: Tensor | None = None
    image_shape: tuple[int, ...] | None = None

    def __post_init__(self) -> None:
        _check_pair(self.x_train, self.y_train, "train")
        _check_pair(self.x_test, self.y_test, "test")
        if self.x_train.shape[1] != self.x_test.shape[1]:
            raise ValueError(
                f"x_train has {self.x_train.shape[1]} features but x_test has "
                f"{self.x_test.shape[1]}; both splits must share the input dimension"
            )
        if self.image_shape is not None and math.prod(self.image_shape) != self.x_train.shape[1]:
            raise ValueError(
                f"image_shape {tuple(self.image_shape)} does not hold the "
                f"{self.x_train.shape[1]} features of x_train"
            )
        if self.num_classes < 2:
            raise ValueError(f"num_classes must be >= 2, got {self.num_classes}")
        latents = (("train", self.z_train, self.x_train), ("test", self.z_test, self.x_test))
        for split, z, x in latents:
            if z is not None and (z.dim() != 2 or z.shape[0] != x.shape[0]):
                raise ValueError(
                    f"z_{split} must be (N, k) with N={x.shape[0]}, got shape {tuple(z.shape)}"
                )

    @property
    def input_dim(self) -> int:
        """Number of input features D (columns of ``x_train``)."""
        return int(self.x_train.shape[1])
