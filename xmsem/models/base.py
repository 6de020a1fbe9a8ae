"""Shared skeleton of every network: hidden blocks ``h1, h2, ...`` then a linear readout.

A block is any module with ``forward(h) -> h'`` and ``lipschitz() -> float`` (an upper bound on its
Lipschitz constant, activation included); the readout has the same interface. The network exposes
its hidden representations by name, runs the tail from any hidden layer (for stitching) and bounds
that tail's Lipschitz constant.
"""

from __future__ import annotations

import math

from torch import Tensor, nn

__all__ = ["HiddenNet", "run_blocks"]


def run_blocks(
    net: nn.Module, h: Tensor, return_hidden: bool = False
) -> Tensor | tuple[Tensor, dict[str, Tensor]]:
    """``net``'s blocks (named ``net.layer_names``) then its readout on the flattened input
    ``h``; with ``return_hidden`` also each block's post-activation by name. Shared by plain and
    ensemble networks."""
    hidden: dict[str, Tensor] = {}
    for name, block in zip(net.layer_names, net.blocks, strict=True):
        h = block(h)
        hidden[name] = h
    logits = net.readout(h)
    return (logits, hidden) if return_hidden else logits


class HiddenNet(nn.Module):
    """Hidden blocks named ``h1..hL`` followed by a readout to logits.

    Inputs with more than two dimensions (e.g. images ``(B, C, H, W)``) are flattened to
    ``(B, input_dim)``.
    """

    def __init__(self, input_dim: int, num_classes: int) -> None:
        super().__init__()
        self.input_dim = input_dim
        self.num_classes = num_classes
        self.blocks = nn.ModuleList()
        self.readout: nn.Module = nn.Identity()

    @property
    def layer_names(self) -> list[str]:
        """Names of the hidden layers in order: ``["h1", ..., "hL"]``."""
        return [f"h{i + 1}" for i in range(len(self.blocks))]

    @property
    def primary_layer(self) -> str:
        """The penultimate layer (the last hidden layer)."""
        return self.layer_names[-1]

    def _layer_index(self, layer: str) -> int:
        names = self.layer_names
        if layer not in names:
            raise ValueError(f"unknown layer {layer!r}; valid: {', '.join(names)}")
        return names.index(layer)

    def forward(
        self, x: Tensor, return_hidden: bool = False
    ) -> Tensor | tuple[Tensor, dict[str, Tensor]]:
        """Logits for ``x``; with ``return_hidden`` also ``{"h1": ..., "hL": ...}`` in order."""
        return run_blocks(self, x.flatten(1) if x.dim() > 2 else x, return_hidden)

    def forward_from(self, layer: str, h: Tensor) -> Tensor:
        """Run the layers after hidden layer ``layer`` on ``h`` (its post-activation) to logits."""
        start = self._layer_index(layer) + 1
        for block in self.blocks[start:]:
            h = block(h)
        return self.readout(h)

    def tail_lipschitz(self, layer: str) -> float:
        """Upper bound on the Lipschitz constant (l2 norms) of ``forward_from(layer, .)``.

        The product over the remaining blocks and the readout of each one's bound. Exact spectral
        norms are used; for spectral shaping in train mode the forward pass uses an estimate, so the
        bound is guaranteed for the network in eval mode.
        """
        start = self._layer_index(layer) + 1
        bounds = [block.lipschitz() for block in self.blocks[start:]]
        bounds.append(self.readout.lipschitz())
        return math.prod(bounds)
