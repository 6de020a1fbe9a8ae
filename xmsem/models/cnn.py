"""A small convolutional network with named hidden layers ``conv1..convK, fc1..fcM``.

Each conv block is ``Conv2d(k x k, stride 1, padding k // 2) -> activation -> MaxPool2d(pool)``;
each fc block ``Linear -> activation``; then a linear readout. Inputs arrive flat, ``(B, C*H*W)``,
and are viewed as images of ``input_shape = (C, H, W)``; every hidden representation is returned
flat, ``(B, C_l*H_l*W_l)`` in (channel, row, column) order, so that metrics see ``(n, d)`` matrices
and :meth:`forward_from` (stitching) takes what the metrics saw.

Lipschitz bound of a conv block (l2 norms), used by :meth:`tail_lipschitz`:
``Lip(act) * min(sum_ij ||W[:, :, i, j]||_2, sqrt(k_h k_w) ||W_mat||_2)``. The first term is the
triangle inequality over the k_h k_w shifted pointwise maps (a zero-padded shift has norm <= 1);
the second writes the conv as ``W_mat`` (out, in k_h k_w) times the im2col operator, which copies
each input pixel into at most k_h k_w patches, so its norm is <= sqrt(k_h k_w). Max pooling over
disjoint windows (stride = kernel) is 1-Lipschitz.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor, nn

from .activations import activation_lipschitz, check_activation, make_activation
from .base import HiddenNet
from .mlp import LinearBlock, LinearReadout, check_widths

__all__ = ["CNN", "ConvBlock", "conv_lipschitz_bound"]


@torch.no_grad()
def conv_lipschitz_bound(weight: Tensor) -> float:
    """Upper bound on the l2 operator norm of a stride-1 zero-padded conv with ``weight``
    (out, in, k_h, k_w): the smaller of the shift bound and the im2col bound (module docstring)."""
    w = weight.detach().double()
    kh, kw = w.shape[-2:]
    shift = torch.linalg.matrix_norm(w.permute(2, 3, 0, 1), ord=2).sum().item()
    im2col = math.sqrt(kh * kw) * torch.linalg.matrix_norm(w.flatten(1), ord=2).item()
    return min(shift, im2col)


class ConvBlock(nn.Module):
    """``pool(act(conv(h)))`` on a flat ``(B, C*H*W)`` input, returned flat."""

    def __init__(
        self,
        in_shape: tuple[int, int, int],
        channels: int,
        kernel_size: int,
        pool: int,
        activation: str,
    ) -> None:
        super().__init__()
        c, h, w = in_shape
        self.in_shape = in_shape
        self.conv = nn.Conv2d(c, channels, kernel_size, padding=kernel_size // 2)
        self.activation_name = activation
        self.act = make_activation(activation)
        self.pool = nn.MaxPool2d(pool) if pool > 1 else nn.Identity()
        # padding k // 2 keeps H, W for odd k and adds one for even k
        h_out, w_out = (
            h + 2 * (kernel_size // 2) - kernel_size + 1,
            w + 2 * (kernel_size // 2) - kernel_size + 1,
        )
        self.out_shape = (channels, h_out // pool, w_out // pool)

    def forward(self, h: Tensor) -> Tensor:
        """Convolve, activate and pool the image view of ``h``; return it flat."""
        x = h.reshape(h.shape[0], *self.in_shape)
        return self.pool(self.act(self.conv(x))).flatten(1)

    def lipschitz(self) -> float:
        """``Lip(act) * conv bound`` (pooling is 1-Lipschitz)."""
        return activation_lipschitz(self.activation_name) * conv_lipschitz_bound(self.conv.weight)


class CNN(HiddenNet):
    """``len(channels)`` conv blocks then ``len(hidden)`` fc blocks: layers ``conv1.. fc1..``."""

    def __init__(
        self,
        input_shape: Sequence[int],
        num_classes: int,
        channels: Sequence[int] = (16, 32),
        hidden: Sequence[int] = (128,),
        kernel_size: int = 3,
        pool: int = 2,
        activation: str = "relu",
    ) -> None:
        shape = tuple(int(s) for s in input_shape)
        if len(shape) != 3 or min(shape) < 1:
            raise ValueError(f"model spec key 'input_shape': must be [C, H, W], got {list(shape)}")
        super().__init__(math.prod(shape), num_classes)
        check_activation(activation)
        self.input_shape = shape
        self.activation = activation
        for c in check_widths(channels, "channels"):
            block = ConvBlock(shape, c, kernel_size, pool, activation)
            if min(block.out_shape[1:]) < 1:
                raise ValueError(
                    f"model spec key 'channels': {len(self.blocks) + 1} conv blocks with pool "
                    f"{pool} shrink the {shape[1]}x{shape[2]} input below 1x1; use fewer or pool=1"
                )
            self.blocks.append(block)
            shape = block.out_shape
        self.n_conv = len(self.blocks)
        dims = [math.prod(shape), *check_widths(hidden, "hidden")]
        for d_in, d_out in zip(dims[:-1], dims[1:], strict=False):
            self.blocks.append(LinearBlock(d_in, d_out, activation))
        self.readout = LinearReadout(dims[-1], num_classes)

    @property
    def layer_names(self) -> list[str]:
        """``["conv1", ..., "convK", "fc1", ..., "fcM"]``."""
        n_fc = len(self.blocks) - self.n_conv
        return [f"conv{i + 1}" for i in range(self.n_conv)] + [f"fc{i + 1}" for i in range(n_fc)]
