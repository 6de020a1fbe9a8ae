"""One epoch convention for everything a run writes: **epochs trained**.

Epoch ``k`` means "after k epochs of training"; 0 is the network before its first step. The
progress line ``epoch k/N``, the end table, ``status.json`` (``best_epoch``, ``best_loss_epoch``,
``stopped_epoch``, ``epochs_trained``), the checkpoint ``checkpoints/epochNNN.ckpt``, the snapshot
``reps/epoch_NNN`` (both hold the network after NNN epochs), the rows of
``metrics/alignment.csv`` and every logger row (``epochs_trained``, and ``epoch`` with the same
value; wandb plots every metric against ``epochs_trained``) all count this way.

Lightning's ``current_epoch`` is the 0-based index of the epoch in progress while it runs
(including its validation and end-of-epoch hooks, which come after its last training step), and
the number of completed epochs once the fit loop has ended (testing, ``on_train_end``): the two
helpers below turn it into epochs trained at those two kinds of places.
"""

from __future__ import annotations

from typing import Any

import torch
from lightning.pytorch.callbacks import ModelCheckpoint

EPOCH_AXIS = "epochs_trained"  # logger key (and wandb x-axis) of the epochs trained
# status.json / checkpoint marker of runs written with this convention (older runs recorded
# Lightning's 0-based epoch index as ``best_epoch`` and in the CSV logs' ``epoch`` column)
CONVENTION = "epochs_trained"


def at_epoch_end(trainer: Any) -> int:
    """Epochs trained at a hook that runs after an epoch's last training step and before the fit
    loop counts the epoch (validation, ``on_train_epoch_end``)."""
    return int(trainer.current_epoch) + 1


def after_fit(trainer: Any) -> int:
    """Epochs trained outside the fit loop's epochs (``on_train_start``/``on_train_end``, test)."""
    return int(trainer.current_epoch)


def logger_step(trainer: Any) -> int:
    """The ``step`` of a logger row written at an epoch's end: the step Lightning gives its own
    epoch-end rows (the index of the epoch's last optimizer step, global_step - 1; 0 before
    training), so the rows of one epoch share a step and the step series never goes back."""
    return max(int(trainer.global_step) - 1, 0)


class EpochsTrainedCheckpoint(ModelCheckpoint):
    """A ModelCheckpoint whose ``{epoch}`` in file names counts epochs trained: the file written
    at the end of the third epoch is ``epoch003.ckpt`` (Lightning's own would say ``epoch002``),
    the same number as the snapshot ``reps/epoch_003`` of those weights."""

    def _monitor_candidates(self, trainer: Any) -> dict[str, torch.Tensor]:
        candidates = super()._monitor_candidates(trainer)
        # saved at an epoch's end (train epoch end or validation), before the loop counts it
        candidates["epoch"] = torch.tensor(at_epoch_end(trainer))
        return candidates
