"""Core of the permutation null (no registry: the spectral bands use it too); the public helper
with metric names is :func:`xmsem.alignment.null.permutation_null`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

__all__ = ["PermutationNull", "null_of_callable", "permutations", "summarise"]


@dataclass(frozen=True)
class PermutationNull:
    """Result of :func:`permutation_null` (floats; ``null`` is the (n_perm,) float64 sample).

    ``chance`` = mean of the null (the chance value), ``sd`` its standard deviation, ``q95``
    its 95th percentile (5th for a distance: the side that would look "aligned"), ``observed``
    the metric on the unpermuted pair, ``p_value`` the one-sided permutation p-value (module
    doc), ``excess = observed - chance``. NaN null values (degenerate input) are dropped from
    the summaries and counted in ``n_nan``.
    """

    observed: float
    chance: float
    sd: float
    q95: float
    p_value: float
    excess: float
    n_perm: int
    n_nan: int
    null: Tensor


def permutations(n: int, n_perm: int, seed: int, device: torch.device) -> list[Tensor]:
    """``n_perm`` row permutations of n from a CPU generator seeded with ``seed`` (the same
    permutations on every device)."""
    gen = torch.Generator(device="cpu").manual_seed(int(seed))
    return [torch.randperm(n, generator=gen, device="cpu").to(device) for _ in range(n_perm)]


def null_of_callable(
    fn: Callable[[Tensor, Tensor], object],
    x: Tensor,
    y: Tensor,
    n_perm: int,
    seed: int = 0,
    higher: bool = True,
) -> PermutationNull:
    """:func:`~xmsem.alignment.null.permutation_null` of a callable on float64 matrices."""
    observed = float(fn(x, y))
    values = [float(fn(x, y[p])) for p in permutations(x.shape[0], n_perm, seed, x.device)]
    return summarise(observed, torch.tensor(values, dtype=torch.float64, device=x.device), higher)


def summarise(observed: float, null: Tensor, higher: bool) -> PermutationNull:
    finite = null[torch.isfinite(null)]
    n_nan = int(null.numel() - finite.numel())
    nan = float("nan")
    if finite.numel() == 0 or observed != observed:
        return PermutationNull(observed, nan, nan, nan, nan, nan, int(null.numel()), n_nan, null)
    chance = float(finite.mean())
    sd = float(finite.std()) if finite.numel() > 1 else 0.0
    q = float(torch.quantile(finite, 0.95 if higher else 0.05))
    hits = int((finite >= observed).sum()) if higher else int((finite <= observed).sum())
    p_value = (1 + hits) / (1 + finite.numel())
    return PermutationNull(
        observed, chance, sd, q, p_value, observed - chance, int(null.numel()), n_nan, null
    )
