"""Helpers of the reliability tests: tiny in-process runs with real Hydra composition."""

from __future__ import annotations

import json
from pathlib import Path

from lightning.pytorch.callbacks import Callback

from tests.conftest import TINY, compose_cfg

FAST = [*TINY, "callbacks=none"]


class Killed(BaseException):
    """Stands in for SIGKILL: not an Exception, so nothing records the run as failed."""


class KillAtEpochEnd(Callback):
    """Ends the process-like run at the end of epoch ``epoch`` (before its checkpoint)."""

    def __init__(self, epoch: int) -> None:
        self.epoch = epoch

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        if trainer.current_epoch == self.epoch:
            raise Killed


def train(run_dir: Path, overrides: list[str], kill_at: int | None = None, monkeypatch=None):
    """``xmsem.train.run`` on a composed config; ``kill_at`` interrupts it at that epoch's end."""
    import xmsem.train as train_mod

    cfg = compose_cfg([*FAST, *overrides], run_dir)
    if kill_at is None:
        return train_mod.run(cfg, run_dir)
    original = train_mod.build_callbacks

    def with_killer(*args, **kwargs):
        return [*original(*args, **kwargs), KillAtEpochEnd(kill_at)]

    monkeypatch.setattr(train_mod, "build_callbacks", with_killer)
    try:
        train_mod.run(cfg, run_dir)
    except Killed:
        pass
    finally:
        monkeypatch.setattr(train_mod, "build_callbacks", original)
    return None


def status(run_dir: Path) -> dict:
    return json.loads((run_dir / "status.json").read_text())
