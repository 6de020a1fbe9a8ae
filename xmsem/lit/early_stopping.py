"""Validation history, cohort early stopping and the monitored cohort validation loss.

:class:`ValidationTracker` reads every model's ``val/<model>/{acc,loss}`` after each validation
(Lightning's ``callback_metrics``) and keeps, per model, the accuracy curve and the optimizer
step of each epoch (convergence measures, :mod:`xmsem.runs.convergence`) and its best
validation loss.

Early stopping (the paper's protocol; ``callbacks.early_stopping``): a model *has stopped
improving* when its validation loss has not fallen by more than ``min_delta`` below its best for
``patience`` validations in a row. A cohort trains its models on the same batches in one
optimizer, so it can only stop as a whole: it stops when **every** monitored model has stopped
improving (no model is cut short because another one converged first).

The tracker also publishes ``val/loss`` — the mean validation loss of the monitored models — as
the quantity a ModelCheckpoint watches for the best-validation checkpoint that the test uses.
Shuffled-label control members are not monitored: their validation loss rises as they memorise,
and would otherwise pick an early checkpoint and never let the cohort stop.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import lightning as L
import torch
from omegaconf import DictConfig

from xmsem.lit.checks import TEST_ON, settings, validate_early_stopping_config  # noqa: F401
from xmsem.lit.epochs import at_epoch_end

MONITOR = "val/loss"


class ValidationTracker(L.Callback):
    """See the module docstring. ``exclude``: members not monitored (controls); a model
    ``<member>.<k>`` (ensemble copy) belongs to ``<member>``."""

    def __init__(
        self,
        enabled: bool = False,
        patience: int = 5,
        min_delta: float = 0.0,
        exclude: Iterable[str] = (),
    ) -> None:
        self.enabled, self.patience, self.min_delta = enabled, patience, min_delta
        self.exclude = set(exclude)
        self.acc: dict[str, list[float]] = {}
        self.loss: dict[str, list[float]] = {}
        self.steps: list[int] = []
        self.best: dict[str, float] = {}
        self.wait: dict[str, int] = {}
        self.stopped_epoch: int | None = None

    # -- state (resume) ----------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        return {"acc": self.acc, "loss": self.loss, "steps": self.steps, "best": self.best,
                "wait": self.wait, "stopped_epoch": self.stopped_epoch}  # fmt: skip

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.acc = {k: list(v) for k, v in state_dict.get("acc", {}).items()}
        self.loss = {k: list(v) for k, v in state_dict.get("loss", {}).items()}
        self.steps = list(state_dict.get("steps", []))
        self.best = dict(state_dict.get("best", {}))
        self.wait = dict(state_dict.get("wait", {}))
        self.stopped_epoch = state_dict.get("stopped_epoch")

    # -- hooks -------------------------------------------------------------------------------
    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.sanity_checking:
            return
        metrics = trainer.callback_metrics
        models = [
            key[len("val/") : -len("/loss")]
            for key in metrics
            if key.startswith("val/") and key.endswith("/loss") and key.count("/") == 2
        ]
        if not models:
            return
        for model in models:
            self.acc.setdefault(model, []).append(_value(metrics.get(f"val/{model}/acc")))
            self.loss.setdefault(model, []).append(_value(metrics.get(f"val/{model}/loss")))
        self.steps.append(int(trainer.global_step))
        monitored = [m for m in models if _member(m) not in self.exclude] or models
        for model in monitored:
            loss = self.loss[model][-1]
            if math.isfinite(loss) and loss < self.best.get(model, math.inf) - self.min_delta:
                self.best[model], self.wait[model] = loss, 0
            else:
                self.wait[model] = self.wait.get(model, 0) + 1
        mean = sum(self.loss[m][-1] for m in monitored) / len(monitored)
        # a ModelCheckpoint monitoring val/loss runs after this hook (Lightning orders
        # checkpoint callbacks last), so the value is there when it decides
        trainer.callback_metrics[MONITOR] = torch.tensor(mean)
        if self.enabled and all(self.wait[m] >= self.patience for m in monitored):
            trainer.should_stop = True
            self.stopped_epoch = at_epoch_end(trainer)

    # -- results -----------------------------------------------------------------------------
    def results(self, fraction: float) -> dict[str, float | int]:
        """Per model: ``val/<m>/epochs_to_target``, ``steps_to_target`` (the first epoch / step
        with accuracy >= fraction x best), ``acc_auc`` (mean validation accuracy over epochs) and
        ``best_loss_epoch`` (the epochs trained at the lowest validation loss, an int, as
        ``best_epoch``: :mod:`xmsem.lit.epochs`)."""
        from xmsem.runs.convergence import accuracy_auc, epochs_to_fraction, steps_to_fraction

        out: dict[str, float | int] = {}
        for model, acc in self.acc.items():
            out[f"val/{model}/epochs_to_target"] = epochs_to_fraction(acc, fraction)
            out[f"val/{model}/steps_to_target"] = steps_to_fraction(acc, self.steps, fraction)
            out[f"val/{model}/acc_auc"] = accuracy_auc(acc)
            losses = [x if math.isfinite(x) else math.inf for x in self.loss.get(model, [])]
            if losses and min(losses) < math.inf:
                out[f"val/{model}/best_loss_epoch"] = losses.index(min(losses)) + 1
        return out


def _member(model: str) -> str:
    head, _, tail = model.rpartition(".")
    return head if head and tail.isdigit() else model


def control_members(specs: dict[str, dict]) -> list[str]:
    """Members trained on shuffled labels (``labels: shuffled``)."""
    return [m for m, spec in specs.items() if str(spec.get("labels", "true")) == "shuffled"]


def build_validation_callbacks(cfg: DictConfig, run_dir: Path) -> list[L.Callback]:
    """The tracker and, when the test uses the best checkpoint, a ModelCheckpoint keeping the
    checkpoint of the lowest monitored validation loss (``checkpoints/best.ckpt``)."""
    from lightning.pytorch.callbacks import ModelCheckpoint

    from xmsem.config import to_plain

    early, _ = settings(cfg)
    tracker = ValidationTracker(
        enabled=early.enabled,
        patience=early.patience,
        min_delta=early.min_delta,
        exclude=control_members(to_plain(cfg.model)),
    )
    out: list[L.Callback] = [tracker]
    if early.test_on == "best":
        out.append(
            ModelCheckpoint(
                dirpath=Path(run_dir) / "checkpoints",
                filename="best",
                monitor=MONITOR,
                mode="min",
                save_top_k=1,
                save_last=False,
                enable_version_counter=False,  # one file, overwritten when a better epoch comes
                save_on_train_epoch_end=False,  # decide after validation, when val/loss exists
            )
        )
    return out


def _value(x: Any) -> float:
    if x is None:
        return math.nan
    return float(x.item() if hasattr(x, "item") else x)
