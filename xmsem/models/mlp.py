"""The plain MLP: ``Linear -> activation`` blocks, then a linear readout."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from .activations import activation_lipschitz, check_activation, make_activation
from .base import HiddenNet
from .checks import check_widths

__all__ = ["MLP", "LinearBlock", "LinearReadout", "check_widths"]


class LinearBlock(nn.Module):
    """``act(W h + b)``."""

    def __init__(self, in_features: int, out_features: int, activation: str = "relu") -> None:
        super().__init__()
        self.linear = nn.Linear(in_features, out_features)
        self.activation_name = activation
        self.act = make_activation(activation)

    def forward(self, h: Tensor) -> Tensor:
        """Apply the affine map and the activation."""
        return self.act(self.linear(h))

    @torch.no_grad()
    def lipschitz(self) -> float:
        """``Lip(act) * sigma_max(W)``."""
        sigma = torch.linalg.matrix_norm(self.linear.weight, ord=2).item()
        return activation_lipschitz(self.activation_name) * sigma


class LinearReadout(nn.Linear):
    """A plain linear readout with a Lipschitz bound ``sigma_max(W)``."""

    @torch.no_grad()
    def lipschitz(self) -> float:
        """``sigma_max(W)``."""
        return torch.linalg.matrix_norm(self.weight, ord=2).item()


class MLP(HiddenNet):
    """Multilayer perceptron with hidden layers ``h1..hL`` of widths ``hidden``."""

    def __init__(
        self,
        input_dim: int,
        num_classes: int,
        hidden: Sequence[int],
        activation: str = "relu",
    ) -> None:
        super().__init__(input_dim, num_classes)
        widths = check_widths(hidden)
        check_activation(activation)
        self.activation = activation
        dims = [input_dim, *widths]
        for d_in, d_out in zip(dims[:-1], dims[1:], strict=False):
            self.blocks.append(LinearBlock(d_in, d_out, activation))
        self.readout = LinearReadout(dims[-1], num_classes)
