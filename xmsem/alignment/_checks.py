"""Shared input checks and result guards for the alignment metrics.

One place decides what degenerate input means, so every metric behaves the same way:

- wrong rank / mismatched number of examples / empty input -> ``ValueError`` (one line naming the
  argument and what would be valid): these are programming errors, not data.
- NaN or inf anywhere in the input -> NaN result and a :class:`DegenerateInputWarning`.
- zero self-similarity (a constant representation: every centred feature is zero, so HSIC(K, K)
  = 0) -> NaN result and a :class:`DegenerateInputWarning`.
- a ratio that leaves its mathematical range by rounding only (at most ``ROUNDING_TOL``) is
  clamped; anything further raises ``RuntimeError`` -- it is a bug and must not be hidden.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable
from typing import ParamSpec, TypeVar

import numpy as np
import torch
from torch import Tensor

__all__ = ["DegenerateInputWarning", "ROUNDING_TOL", "numpy_io"]

P = ParamSpec("P")
R = TypeVar("R")

ROUNDING_TOL = 1e-12


class DegenerateInputWarning(UserWarning):
    """Emitted when a metric returns NaN because its input carries no usable signal."""


def as_matrix(x: Tensor | np.ndarray, name: str) -> Tensor:
    """Return ``x`` as a 2-D float64 tensor on its own device; 1-D input becomes one column.

    A numpy array is accepted (converted without a copy where possible, on the CPU)."""
    if isinstance(x, np.ndarray):
        x = torch.from_numpy(np.ascontiguousarray(x)) if x.dtype != object else x
    if not isinstance(x, Tensor):
        raise ValueError(
            f"{name} must be a torch.Tensor or numpy array of shape (n, d), got {type(x).__name__}"
        )
    if x.ndim == 1:
        x = x[:, None]
    if x.ndim != 2:
        raise ValueError(f"{name} must have shape (n, d) (2-D), got shape {tuple(x.shape)}")
    if x.shape[0] == 0 or x.shape[1] == 0:
        raise ValueError(f"{name} must be non-empty with shape (n, d), got {tuple(x.shape)}")
    if x.is_complex():
        raise ValueError(f"{name} must be real-valued, got dtype {x.dtype}")
    return x.detach().to(torch.float64)


def check_pair(x: Tensor, y: Tensor, min_n: int = 2) -> tuple[Tensor, Tensor]:
    """Validate a pair of representations of the same examples; return float64 copies.

    Raises ``ValueError`` when shapes are wrong, the row counts differ, the devices differ or
    there are fewer than ``min_n`` examples.
    """
    x = as_matrix(x, "x")
    y = as_matrix(y, "y")
    if x.shape[0] != y.shape[0]:
        raise ValueError(
            f"x and y must hold the same examples (same n): x has n={x.shape[0]}, "
            f"y has n={y.shape[0]}"
        )
    if x.device != y.device:
        raise ValueError(f"x and y must be on the same device, got {x.device} and {y.device}")
    if x.shape[0] < min_n:
        raise ValueError(f"this metric needs n >= {min_n} examples, got n={x.shape[0]}")
    return x, y


def all_finite(*tensors: Tensor) -> bool:
    """True if no tensor holds NaN or inf.

    Checked through the float64 sum first (NaN and inf propagate into it; one reduction, no
    n x d boolean temporary); only a non-finite sum -- bad input, or an overflow of finite
    values -- is settled element by element."""
    for t in tensors:
        if not bool(torch.isfinite(t.sum(dtype=torch.float64))) and not bool(
            torch.isfinite(t).all()
        ):
            return False
    return True


def nonfinite(*tensors: Tensor, what: str = "metric") -> bool:
    """True (and warn) if any tensor holds NaN or inf."""
    for t in tensors:
        if not all_finite(t):
            warnings.warn(
                f"{what}: input contains NaN or inf; returning NaN",
                DegenerateInputWarning,
                stacklevel=3,
            )
            return True
    return False


def warn_degenerate(what: str, why: str) -> None:
    """Warn that ``what`` returns NaN because of ``why``."""
    warnings.warn(f"{what}: {why}; returning NaN", DegenerateInputWarning, stacklevel=3)


def nan_like(x: Tensor) -> Tensor:
    """0-d float64 NaN on ``x``'s device."""
    return torch.full((), float("nan"), dtype=torch.float64, device=x.device)


def cosine_ratio(num: Tensor, den_x: Tensor, den_y: Tensor, what: str, lo: float = 0.0) -> Tensor:
    """``num / sqrt(den_x * den_y)`` with the degenerate cases and range guard of this module.

    ``den_x`` / ``den_y`` are self-similarities (squared norms in some inner product, so >= 0 up
    to rounding). A non-positive one means a constant representation -> NaN + warning. The two
    are never compared with each other (scale invariance). The
    result must lie in ``[lo, 1]``; rounding excursions up to ``ROUNDING_TOL`` are clamped,
    larger ones raise ``RuntimeError``.
    """
    if not bool(torch.isfinite(num) & torch.isfinite(den_x) & torch.isfinite(den_y)):
        warn_degenerate(what, "non-finite intermediate (overflow?)")
        return nan_like(num)
    # Each side is judged on its own: the metrics are scale invariant, so comparing one side's
    # self-similarity with the other's (as an earlier version did) turned representations that
    # differ in overall scale by ~1e6 into NaN. Rounding-level constancy relative to a side's own
    # raw norm is detected upstream (``is_constant``) where the raw data are known.
    if bool(den_x <= 0) or bool(den_y <= 0):
        warn_degenerate(what, "a representation is constant (zero self-similarity)")
        return nan_like(num)
    val = num / torch.sqrt(den_x * den_y)
    return clamp_rounding(val, lo, 1.0, what)


def clamp_rounding(val: Tensor, lo: float, hi: float, what: str) -> Tensor:
    """Clamp ``val`` to ``[lo, hi]`` if it is outside by at most ``ROUNDING_TOL``; else raise."""
    v = float(val)
    if v != v:  # NaN passes through (already warned upstream)
        return val
    if v < lo - ROUNDING_TOL or v > hi + ROUNDING_TOL:
        raise RuntimeError(
            f"{what}: value {v!r} outside [{lo}, {hi}] beyond rounding; this is a bug"
        )
    return val.clamp(lo, hi)


def centre(x: Tensor) -> Tensor:
    """Subtract the column means (features centred over the examples)."""
    return x - x.mean(dim=0, keepdim=True)


def is_constant(x: Tensor, xc: Tensor) -> bool:
    """True if the centred ``xc`` is zero up to the rounding error of centring ``x``.

    Every row of ``x`` is then the same point: the representation carries no information and
    any similarity to it is undefined (0/0). Individual constant columns are harmless.
    """
    return is_constant_sq(xc.square().sum(), x.square().sum(), x.shape[0])


def is_constant_sq(centred_sq: Tensor, raw_sq: Tensor, n: int) -> bool:
    """:func:`is_constant` from the squared Frobenius norms of the centred and raw data."""
    eps = torch.finfo(torch.float64).eps
    return bool(centred_sq <= (8 * n * eps) ** 2 * raw_sq)


def check_constant(what: str, pairs: list[tuple[Tensor, Tensor]]) -> bool:
    """Warn and return True if any (raw, centred) pair is a constant representation."""
    for x, xc in pairs:
        if is_constant(x, xc):
            warn_degenerate(what, "a representation is constant (all examples identical)")
            return True
    return False


def numpy_io(fn: Callable[P, R]) -> Callable[P, R]:
    """Let a metric be called with numpy arrays: when any argument is a ``numpy.ndarray``, a 0-d
    tensor result comes back as a Python ``float`` and any other tensor result as an ndarray
    (a numpy caller asked for a number, not a torch object). Torch callers see no change."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        out = fn(*args, **kwargs)
        if not any(isinstance(a, np.ndarray) for a in (*args, *kwargs.values())):
            return out
        if isinstance(out, Tensor):
            return float(out) if out.ndim == 0 else out.detach().cpu().numpy()  # type: ignore[return-value]
        return out

    return wrapper
