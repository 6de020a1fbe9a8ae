"""Stop a run whose training loss stops being a finite number (``on_divergence: stop``)."""

from __future__ import annotations

import logging
from typing import Any

import torch
from lightning.pytorch.callbacks import Callback

from xmsem.runs.choices import ON_DIVERGENCE

log = logging.getLogger("xmsem.runs")


class Diverged(RuntimeError):
    """The training loss became NaN or infinite."""


class DivergenceGuard(Callback):
    """Raises :class:`Diverged` ("diverged during epoch e, step s") on the first non-finite training
    loss, or (``action="continue"``) warns once and lets the run go on.

    The first bad step is recorded on the loss's device without a host sync; the host looks every
    ``check_every`` batches and at the end of each epoch (a sync per step slows small GPU models).
    """

    def __init__(self, action: str = "stop", check_every: int = 16) -> None:
        if action not in ON_DIVERGENCE:
            raise ValueError(f"on_divergence={action!r}; valid: {', '.join(ON_DIVERGENCE)}")
        self.action, self.check_every = action, check_every
        self.warned = False
        self._first: torch.Tensor | None = None  # first non-finite global step, -1 = none

    def on_train_batch_end(self, trainer, pl_module, outputs: Any, batch: Any, batch_idx: int):
        loss = outputs.get("loss") if isinstance(outputs, dict) else outputs
        if loss is None or self.warned:
            return
        loss = loss.detach()
        if self._first is None or self._first.device != loss.device:
            self._first = torch.full((), -1, dtype=torch.long, device=loss.device)
        bad = ~torch.isfinite(loss) & (self._first < 0)
        self._first = torch.where(bad, trainer.global_step - 1, self._first)
        if (batch_idx + 1) % self.check_every == 0:
            self._check(trainer)

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        self._check(trainer)

    def _check(self, trainer) -> None:
        if self._first is None or self.warned:
            return
        step = int(self._first)
        if step < 0:
            return
        # the epoch in progress, counted as epochs trained are (the first epoch is epoch 1)
        where = f"during epoch {trainer.current_epoch + 1}, step {step}"
        if self.action == "stop":
            raise Diverged(
                f"diverged {where} (non-finite training loss); lower optim.lr, or set "
                "on_divergence=continue to train on (metrics of non-finite values are NaN)"
            )
        log.warning("xmsem: diverged %s (non-finite training loss); continuing", where)
        self.warned = True


def raise_if_diverged(module: torch.nn.Module, trainer, err: BaseException) -> None:
    """Raise :class:`Diverged` (from ``err``) when ``module`` holds a non-finite parameter: the
    error is then a consequence of divergence (e.g. an eigensolver on NaN weights), not a bug."""
    if isinstance(err, Diverged):
        return
    with torch.no_grad():
        finite = all(bool(torch.isfinite(p.sum())) for p in module.parameters())
    if not finite:
        raise Diverged(
            f"diverged during epoch {trainer.current_epoch + 1}, step {trainer.global_step} (non-finite "
            f"weights; then {type(err).__name__}); lower optim.lr"
        ) from err
