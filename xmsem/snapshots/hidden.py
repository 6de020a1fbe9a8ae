"""Hidden layers of any ``nn.Module`` by module name, for code outside xmsem's training loop
(:func:`xmsem.compare_models`, :class:`xmsem.lightning.AlignmentCallback`).

A :class:`LayerReader` takes the outputs of the named submodules with the same extraction as a
``_target_`` member (:class:`xmsem.models.extract.ExtractedNet`: torchvision's FX feature
extraction, forward hooks where tracing fails), flattened to ``(B, d)``. Reading is done in eval
mode under ``no_grad`` and the module's train/eval state is restored afterwards, so a reader can
be called in the middle of training.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from xmsem.models.extract import ExtractedNet, check_layers

__all__ = ["LayerReader", "batch_inputs"]


def batch_inputs(batch: object) -> tuple[Tensor, Tensor | None]:
    """``(inputs, labels or None)`` of one loader batch: a tensor, or a tuple/list whose first
    item is the inputs and second (if any, and an integer tensor) the labels; a dict with keys
    ``x`` / ``y`` (or ``input`` / ``label``) likewise."""
    if isinstance(batch, Tensor):
        return batch, None
    if isinstance(batch, dict):
        x = batch.get("x", batch.get("input"))
        y = batch.get("y", batch.get("label"))
    elif isinstance(batch, (tuple, list)) and batch:
        x = batch[0]
        y = batch[1] if len(batch) > 1 else None
    else:
        x = y = None
    if not isinstance(x, Tensor):
        raise TypeError(
            f"a batch must be a tensor, a (inputs, labels, ...) tuple or a dict with 'x'; got "
            f"{type(batch).__name__}"
        )
    if not (isinstance(y, Tensor) and not y.is_floating_point() and y.ndim == 1):
        y = None
    return x, y


class LayerReader:
    """The named layers of ``module`` as flat ``(B, d)`` tensors (module doc)."""

    def __init__(self, module: nn.Module, layers: Sequence[str], key: str = "layers") -> None:
        if isinstance(layers, str):
            layers = [layers]
        check_layers(module, list(layers), key)
        self.module = module
        self.layers = list(layers)
        self._net: ExtractedNet | None = None

    def device(self) -> torch.device:
        first = next(self.module.parameters(), None)
        if first is None:
            first = next(self.module.buffers(), None)
        return first.device if first is not None else torch.device("cpu")

    def __call__(self, x: Tensor) -> dict[str, Tensor]:
        """``{layer: (B, d)}`` for one batch ``x`` (moved to the module's device)."""
        x = x.to(self.device())
        if self._net is None or self._net.input_shape != tuple(x.shape[1:]):
            # the wrapper reshapes inputs to input_shape: a no-op for inputs already that shape
            self._net = ExtractedNet(self.module, self.layers, tuple(x.shape[1:]))
            self._net.verify(x)
        was = self.module.training
        self.module.eval()
        try:
            with torch.no_grad():
                _, hidden = self._net(x, return_hidden=True)
        finally:
            self.module.train(was)
        return {name: hidden[name].detach() for name in self.layers}
