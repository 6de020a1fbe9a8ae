"""Hidden representations of an arbitrary ``nn.Module``, by module name.

:class:`ExtractedNet` wraps any network (a ``_target_`` member) so that it offers the interface
every xmsem network has: ``forward(x)`` -> logits, ``forward(x, return_hidden=True)`` -> logits and
``{layer: (B, d)}`` in the order of ``layers``, and ``layer_names``. Inputs arrive flat,
``(B, prod(input_shape))``, and are reshaped to ``(B, *input_shape)`` (e.g. ``(B, 1, 28, 28)``)
before the wrapped network sees them.

How a layer's output is taken: torchvision's ``create_feature_extractor`` (FX symbolic tracing)
returns the output of each named module (for a container, the output of its last operation). When
tracing fails (data-dependent control flow, unsupported ops) or its outputs disagree with the
network's own forward, forward hooks take over: registered only for the duration of one forward
pass, each module must run exactly once per pass (a module called twice would leave an ambiguous
output and is refused), and a tuple output contributes its first tensor. Every representation is
flattened to ``(B, d)`` — a conv feature map ``(B, C, H, W)`` becomes ``(B, C*H*W)`` in (channel,
row, column) order — because every metric works on ``(n, d)`` matrices.

Stitching needs a network's tail (``forward_from``) and a Lipschitz bound of it; an arbitrary
module offers neither, so :func:`stitch_support` reports why it cannot be stitched into.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import torch
from torch import Tensor, nn

__all__ = ["ExtractedNet", "check_layers", "stitch_support"]

log = logging.getLogger(__name__)


def check_layers(net: nn.Module, layers: Sequence[str], key: str = "layers") -> None:
    """Raise ValueError (one line) unless every name in ``layers`` is a module of ``net``."""
    modules = dict(net.named_modules())
    for name in layers:
        if not name or name not in modules:
            valid = [n for n in modules if n][:12]
            more = ", ..." if len(modules) - 1 > len(valid) else ""
            raise ValueError(
                f"model spec key '{key}': {type(net).__name__} has no module {name!r}; "
                f"valid: {', '.join(valid)}{more}"
            )
    if len(set(layers)) != len(layers):
        raise ValueError(f"model spec key '{key}': layer names repeat: {list(layers)}")


def _first_tensor(value: object, name: str) -> Tensor:
    if isinstance(value, Tensor):
        return value
    if isinstance(value, (tuple, list)) and value and isinstance(value[0], Tensor):
        return value[0]
    raise TypeError(f"module {name!r} returned {type(value).__name__}, not a tensor or a tuple")


class ExtractedNet(nn.Module):
    """A network plus the names of the modules whose outputs are its hidden layers."""

    def __init__(self, net: nn.Module, layers: Sequence[str], input_shape: Sequence[int]) -> None:
        super().__init__()
        check_layers(net, layers)
        self.net = net
        self.layers = list(layers)
        self.input_shape = tuple(int(s) for s in input_shape)
        self.method = "fx"
        # the traced module shares net's submodules; kept out of the module tree (not a child,
        # not in the state dict) and rebuilt when the parameters move to another device
        self.__dict__["_extractor"] = None
        self.__dict__["_extractor_device"] = None

    @property
    def layer_names(self) -> list[str]:
        return list(self.layers)

    @property
    def primary_layer(self) -> str:
        """The last listed layer."""
        return self.layers[-1]

    def _inputs(self, x: Tensor) -> Tensor:
        return x.reshape(x.shape[0], *self.input_shape)

    def forward(
        self, x: Tensor, return_hidden: bool = False
    ) -> Tensor | tuple[Tensor, dict[str, Tensor]]:
        """Logits of the wrapped network; with ``return_hidden`` also its named layers, flat."""
        x = self._inputs(x)
        if not return_hidden:
            return self.net(x)
        if self.method == "fx":
            extractor = self._fx()
            if extractor is not None:
                out = extractor(x)
                logits = out[self._logits_key]
                # a traced tuple output (nn.LSTM: output, (h, c)) contributes its first tensor
                return logits, {
                    name: _first_tensor(out[name], name).flatten(1) for name in self.layers
                }
        return self._hooked(x)

    # -- FX ------------------------------------------------------------------------------------
    def _fx(self):
        device = next(self.net.parameters(), torch.empty(0)).device
        if self._extractor is not None and self._extractor_device == device:
            return self._extractor
        from torchvision.models.feature_extraction import (
            create_feature_extractor,
            get_graph_node_names,
        )

        was = self.net.training
        try:
            _, eval_nodes = get_graph_node_names(self.net)
            nodes = {name: name for name in self.layers}
            # the output node; a listed layer may be it (e.g. the last Linear of a Sequential)
            nodes.setdefault(eval_nodes[-1], "__logits__")
            self.__dict__["_logits_key"] = nodes[eval_nodes[-1]]
            extractor = create_feature_extractor(self.net, return_nodes=nodes)
        except Exception as err:  # noqa: BLE001 - any tracing failure means: use hooks
            log.info("%s: FX tracing failed (%s); using forward hooks",
                     type(self.net).__name__, str(err).splitlines()[0] if str(err) else err)  # fmt: skip
            self.method = "hooks"
            return None
        finally:
            self.net.train(was)
        self.__dict__["_extractor"], self.__dict__["_extractor_device"] = extractor, device
        return extractor

    def verify(self, x: Tensor) -> None:
        """Check on ``x`` (flat) that the FX outputs match the network's forward and hooks;
        switch to hooks when they do not (e.g. a forward that returns more than the logits)."""
        was = self.net.training
        self.net.eval()
        try:
            with torch.no_grad():
                xi = self._inputs(x)
                direct = self.net(xi)
                hooked = self._hooked(xi)[1]
                if self.method == "fx" and self._fx() is not None:
                    out = self._fx()(xi)
                    same = isinstance(direct, Tensor) and torch.allclose(
                        out[self._logits_key], direct, atol=1e-5, rtol=1e-4
                    ) and all(torch.allclose(_first_tensor(out[k], k).flatten(1), hooked[k],
                                             atol=1e-5, rtol=1e-4) for k in self.layers)  # fmt: skip
                    if not same:
                        log.info("%s: FX outputs differ from the forward pass; using hooks",
                                 type(self.net).__name__)  # fmt: skip
                        self.method = "hooks"
        finally:
            self.net.train(was)

    # -- hooks ---------------------------------------------------------------------------------
    def _hooked(self, x: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
        """Logits and flat hidden layers of ``x`` (already in ``input_shape``) via hooks."""
        modules = dict(self.net.named_modules())
        captured: dict[str, list[Tensor]] = {name: [] for name in self.layers}

        def hook_for(name: str):
            def hook(module: nn.Module, args: object, output: object) -> None:
                captured[name].append(_first_tensor(output, name))

            return hook

        handles = [modules[name].register_forward_hook(hook_for(name)) for name in self.layers]
        try:
            logits = self.net(x)
        finally:
            for handle in handles:
                handle.remove()
        hidden: dict[str, Tensor] = {}
        for name in self.layers:
            if len(captured[name]) != 1:
                raise ValueError(
                    f"layer {name!r} ran {len(captured[name])} times in one forward pass; a hidden "
                    "layer must be a module called exactly once (name a distinct module)"
                )
            hidden[name] = captured[name][0].flatten(1)
        return _first_tensor(logits, "forward"), hidden


def stitch_support(net: nn.Module) -> str | None:
    """None when ``net`` can be stitched into (runs its tail from a hidden layer and bounds that
    tail's Lipschitz constant), else the reason why not."""
    if isinstance(net, ExtractedNet):
        return (
            f"{type(net.net).__name__} is a _target_ member: xmsem cannot run an arbitrary "
            "module's tail from a hidden layer (no forward_from / tail_lipschitz)"
        )
    if not (hasattr(net, "forward_from") and hasattr(net, "tail_lipschitz")):
        return f"{type(net).__name__} has no forward_from / tail_lipschitz"
    return None
