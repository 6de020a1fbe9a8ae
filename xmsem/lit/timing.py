"""Wall-clock time per training epoch, logged as ``time/epoch_seconds``."""

from __future__ import annotations

import time

import lightning as L


class EpochTimer(L.Callback):
    """Logs the seconds each training epoch took (validation inside it included)."""

    def __init__(self) -> None:
        self._start: float | None = None
        self.seconds: list[float] = []

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._start = time.perf_counter()

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self._start is None:
            return
        seconds = time.perf_counter() - self._start
        self.seconds.append(seconds)
        pl_module.log("time/epoch_seconds", seconds, on_step=False, on_epoch=True)
