"""Synthetic classification task with known latent factors.

Generative process (everything derives from ``seed`` through private ``torch.Generator`` objects;
the global RNG is never touched, so the same arguments give bit-identical tensors):

    z ~ N(0, I_k)                                   latent factors, k = latent_dim
    x = tanh(z W1 + b1) W2 + noise * eps            fixed random 2-layer map to R^D, eps ~ N(0, I_D)
    y = argmax(z R + c)                             linear readout of z into C classes

``R`` has unit-norm columns and the offsets ``c`` are calibrated once (Sinkhorn iterations on a
sample drawn from the same seed) so that the classes come out roughly balanced: within about 10%
of uniform for latent_dim >= 8, less evenly for very small latent_dim (latent_dim = 1 allows only
two classes). ``x`` is then standardised per feature with train-split statistics. The map and
readout come from one generator, and the train and test draws from two generators seeded from
it, so changing ``n_train`` never changes the map or the test latents and labels.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # torch is imported where it is used: config validation reads the specs
    from torch import Tensor

from xmsem.data.spec import DataCommon, DatasetSpec, register_dataset
from xmsem.data.tensors import RawSplits

_CALIBRATION_SAMPLES = 10_000
_CALIBRATION_STEPS = 40
_CALIBRATION_TEMPERATURE = 0.1


def _check_positive_int(name: str, value: object) -> None:
    """Raise a one-line ValueError unless ``value`` is a positive int."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")


def _validate(
    n_train: int,
    n_test: int,
    latent_dim: int,
    input_dim: int,
    num_classes: int,
    hidden: int,
    noise: float,
    seed: int,
) -> None:
    """Check the arguments of :func:`load_synthetic`, naming the first bad one."""
    for name, value in (
        ("n_train", n_train),
        ("n_test", n_test),
        ("latent_dim", latent_dim),
        ("input_dim", input_dim),
        ("hidden", hidden),
    ):
        _check_positive_int(name, value)
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 2:
        raise ValueError(f"num_classes must be an int >= 2, got {num_classes!r}")
    if (
        isinstance(noise, bool)
        or not isinstance(noise, (int, float))
        or not math.isfinite(noise)
        or noise < 0
    ):
        raise ValueError(f"noise must be a finite number >= 0, got {noise!r}")
    if latent_dim == 1 and num_classes > 2:
        raise ValueError(
            f"num_classes must be 2 when latent_dim is 1 (a 1-D linear readout separates only "
            f"two classes), got num_classes={num_classes}"
        )
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**63:
        raise ValueError(f"seed must be an int in [0, 2**63), got {seed!r}")


def _balancing_offsets(scores: Tensor, temperature: float, steps: int) -> Tensor:
    """Per-class offsets ``c`` making ``argmax(scores + c)`` roughly uniform over the classes.

    Sinkhorn iterations in the log domain on a softmax relaxation (entropic semi-discrete optimal
    transport to the uniform class marginal): stable for any readout, and with a temperature
    small against the score scale the hard argmax inherits the balance.
    """
    import torch

    n, num_classes = scores.shape
    offsets = torch.zeros(num_classes)
    for _ in range(steps):
        logits = (scores + offsets) / temperature
        log_marginal = torch.logsumexp(logits - logits.logsumexp(1, keepdim=True), 0)
        offsets -= temperature * (log_marginal - math.log(n) + math.log(num_classes))
    return offsets


def _map_to_inputs(z: Tensor, w1: Tensor, b1: Tensor, w2: Tensor) -> Tensor:
    """The fixed random nonlinear map z -> R^D (before noise)."""
    import torch

    return torch.tanh(z @ w1 + b1) @ w2


def load_synthetic(
    n_train: int = 20000,
    n_test: int = 5000,
    latent_dim: int = 8,
    input_dim: int = 64,
    num_classes: int = 10,
    hidden: int = 128,
    noise: float = 0.1,
    seed: int = 1234,
) -> RawSplits:
    """Generate the synthetic task in memory (reads no files; see the module docstring).

    Returns a :class:`RawSplits` named ``"synthetic"`` with ``x`` of shape ``(n, input_dim)``,
    labels in ``[0, num_classes)`` and the latent factors in ``z_train`` / ``z_test``
    (``(n, latent_dim)``). Raises ValueError naming the argument for invalid sizes, a
    ``num_classes`` below 2, a negative ``noise`` or a seed outside ``[0, 2**63)``.
    """
    import torch

    _validate(n_train, n_test, latent_dim, input_dim, num_classes, hidden, noise, seed)
    gen = torch.Generator().manual_seed(seed)
    w1 = torch.randn(latent_dim, hidden, generator=gen) / math.sqrt(latent_dim)
    b1 = 0.1 * torch.randn(hidden, generator=gen)
    w2 = torch.randn(hidden, input_dim, generator=gen) / math.sqrt(hidden)
    readout = torch.randn(latent_dim, num_classes, generator=gen)
    readout = readout / readout.norm(dim=0, keepdim=True)
    calibration = torch.randn(_CALIBRATION_SAMPLES, latent_dim, generator=gen)
    offsets = _balancing_offsets(
        calibration @ readout, _CALIBRATION_TEMPERATURE, _CALIBRATION_STEPS
    )
    train_seed, test_seed = torch.randint(0, 2**62, (2,), generator=gen).tolist()

    def draw(n: int, split_seed: int) -> tuple[Tensor, Tensor, Tensor]:
        split_gen = torch.Generator().manual_seed(split_seed)
        z = torch.randn(n, latent_dim, generator=split_gen)
        eps = torch.randn(n, input_dim, generator=split_gen)
        x = _map_to_inputs(z, w1, b1, w2) + noise * eps
        y = (z @ readout + offsets).argmax(dim=1)
        return x, y, z

    x_train, y_train, z_train = draw(n_train, train_seed)
    x_test, y_test, z_test = draw(n_test, test_seed)
    mean = x_train.mean(dim=0)
    std = x_train.std(dim=0, correction=0).clamp_min(1e-8)
    return RawSplits(
        x_train=((x_train - mean) / std).float(),
        y_train=y_train.long(),
        x_test=((x_test - mean) / std).float(),
        y_test=y_test.long(),
        num_classes=num_classes,
        name="synthetic",
        z_train=z_train,
        z_test=z_test,
    )


@dataclass
class SyntheticData(DataCommon):
    """Schema of ``data`` for the synthetic task (conf/data/synthetic.yaml): the arguments of
    :func:`load_synthetic` with the same defaults."""

    n_train: int = 20000
    n_test: int = 5000
    latent_dim: int = 8
    input_dim: int = 64
    num_classes: int = 10
    hidden: int = 128
    noise: float = 0.1
    seed: int = 1234


def check_synthetic(data: Mapping[str, Any]) -> None:
    """The checks of :func:`load_synthetic` on a ``data`` config, before anything is generated."""
    _validate(*(data[key] for key in ("n_train", "n_test", "latent_dim", "input_dim",
                                      "num_classes", "hidden", "noise", "seed")))  # fmt: skip


SYNTHETIC = register_dataset(DatasetSpec(
    "synthetic", load_synthetic, SyntheticData, test_size=lambda data: data["n_test"],
    check=check_synthetic, doc="known latent factors through a fixed random map; no files",
))  # fmt: skip
