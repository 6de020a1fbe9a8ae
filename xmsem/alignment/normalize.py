"""Representation normalisation: the ONE place that decides how features are scaled before maps,
probes and stitches (``callbacks.representations.normalize``).

A :class:`Normalizer` is fitted on the *fit* split of one representation and applied unchanged to
its eval split (no eval statistics leak into a fitted map or probe). It is the affine map
``N(x) = (x - m) / s`` with per-feature ``m`` and ``s``:

* ``none``: ``m = 0``, ``s = 1`` (raw features).
* ``center``: ``m`` = feature means, ``s = 1``.
* ``unit_norm``: the paper's "zero mean and unit norm" (arXiv 2508.03649), read as: centre each
  feature, then scale the whole representation by ONE number so that its centred matrix has unit
  Frobenius norm per example, ``s = ||X_c||_F / sqrt(n)`` (the root mean squared norm of an
  example; dividing by sqrt(n) keeps the fit and eval splits on the same scale whatever their
  sizes). Isotropic: it changes no angle or relative variance, only the overall scale, so an
  orthogonal map between two unit-norm representations is still a rotation.
* ``standardize`` (the default): ``m`` = feature means, ``s`` = per-feature population standard
  deviation (``z``-scores); a constant feature gets ``s = 1``. Every unit gets the same variance.

Why one choice for everything: an orthogonal (Procrustes) map preserves lengths, so it can only
carry B onto A when both live on the same scale. Fitting it on centred but unscaled features while
the probe read standardised ones (as xmsem once did) made the transfer ratio depend on the two
networks' unit scales (MLP units 2.5-2.9x larger than PGNN's on Fashion-MNIST) rather than on
their alignment.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from xmsem.catalog.choices import NORMALIZATIONS  # the names validation reads without torch

from ._checks import as_matrix

__all__ = ["NORMALIZATIONS", "Normalizer", "check_normalize", "fit_normalizer"]


def check_normalize(kind: str) -> str:
    """``kind`` if it is a known normalisation; ValueError naming the valid ones otherwise."""
    if kind not in NORMALIZATIONS:
        raise ValueError(f"normalize must be one of {', '.join(NORMALIZATIONS)}; got {kind!r}")
    return kind


@dataclass(frozen=True)
class Normalizer:
    """``N(x) = (x - mean) / scale`` (float64, per feature), fitted by :func:`fit_normalizer`."""

    kind: str
    mean: Tensor
    scale: Tensor

    def __call__(self, x: Tensor | np.ndarray) -> Tensor:
        return (as_matrix(x, "x") - self.mean) / self.scale

    def inverse(self, z: Tensor) -> Tensor:
        """``N^{-1}(z) = z * scale + mean``."""
        return z * self.scale + self.mean


def fit_normalizer(x_fit: Tensor | np.ndarray, kind: str = "standardize") -> Normalizer:
    """The normalisation ``kind`` (module doc) with its statistics from ``x_fit`` (n, d)."""
    check_normalize(kind)
    x = as_matrix(x_fit, "x_fit")
    d = x.shape[1]
    ones = torch.ones(d, dtype=torch.float64, device=x.device)
    if kind == "none":
        return Normalizer(kind, torch.zeros_like(ones), ones)
    mean = x.mean(dim=0)
    if kind == "center":
        return Normalizer(kind, mean, ones)
    centred_sq = (x - mean).square_()
    if kind == "unit_norm":
        rms = centred_sq.sum(dim=1).mean().sqrt()
        return Normalizer(kind, mean, ones * (rms if bool(rms > 0) else 1.0))
    sd = centred_sq.mean(dim=0).sqrt_()  # population sd
    return Normalizer(kind, mean, torch.where(sd > 0, sd, ones))
