"""A value computed from weights, served again only while the weights are bit for bit the same.

Why content, not versions: ``torch.optim.Adam(fused=True)`` (what seed ensembles train with) updates
parameters in place WITHOUT bumping ``Tensor._version``, so a cache keyed on versions (or on
``data_ptr``) serves the value of an earlier step. :class:`WeightKeyedCache` keeps a copy of the
weights a value was computed from and compares it with ``torch.equal``: a read of the weights,
far cheaper than what is cached (an eigenvalue problem per forward), and it cannot go stale
whatever changed the weights (an optimizer of any kind, ``load_state_dict``, a manual edit).
Owners also :meth:`clear` it when they switch to training mode, where the value is not used.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

import torch
from torch import Tensor

__all__ = ["WeightKeyedCache"]

T = TypeVar("T")


def _same(a: Tensor, b: Tensor) -> bool:
    return a.shape == b.shape and a.dtype == b.dtype and a.device == b.device and torch.equal(a, b)


class WeightKeyedCache(Generic[T]):
    """One cached value and a copy of the tensors it was computed from."""

    def __init__(self) -> None:
        self._key: list[Tensor] | None = None
        self._value: T | None = None

    def get(self, tensors: Sequence[Tensor], compute: Callable[[], T]) -> T:
        """``compute()``, or the value of the last call if ``tensors`` equal its tensors exactly."""
        with torch.no_grad():
            key = self._key
            fresh = key is not None and len(key) == len(tensors)
            if fresh and all(_same(a, b) for a, b in zip(key, tensors, strict=True)):
                return self._value  # type: ignore[return-value]
            value = compute()
            self._key = [t.detach().clone() for t in tensors]
            self._value = value
            return value

    def clear(self) -> None:
        """Forget the value (and the copy of the weights)."""
        self._key = None
        self._value = None
