"""What an attempt on a run folder does, decided before anything in the folder is touched.

* another config's run in the folder: refused (:class:`RunConflict`, one line);
* a completed run of this config: skipped when it has the epochs asked for (or early stopping
  ended it); continued from its last checkpoint when ``trainer.max_epochs`` was raised; refused
  when fewer epochs than it has are asked for;
* otherwise trained: from the newest intact checkpoint of this config, or from scratch.

The decision only reads; the caller changes the folder only for :attr:`Plan.trains`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from xmsem.runs.checkpoints import inspect_checkpoints
from xmsem.runs.fingerprint import RunConflict, describe_difference
from xmsem.runs.status import STATES, RunStatus


@dataclass
class Plan:
    """The decision for one attempt."""

    trains: bool
    message: str = ""  # why it is skipped / what it continues
    checkpoint: Path | None = None  # resume from here (None: from scratch)
    unreadable: list[Path] = field(default_factory=list)  # checkpoints tried and found broken
    prior: dict[str, Any] = field(default_factory=dict)  # the folder's status.json (or {})


def epochs_trained(prior: Mapping[str, Any]) -> int | None:
    """Epochs a completed run trained (``epochs_trained``; older records: ``results.epochs``)."""
    value = prior.get("epochs_trained", (prior.get("results") or {}).get("epochs"))
    return int(value) if value is not None else None


def plan_attempt(
    run_dir: Path, fingerprint: str, items: Mapping[str, Any], max_epochs: int, force: bool
) -> Plan:
    """Decide what this attempt does (see the module docstring); raises :class:`RunConflict`."""
    run_dir = Path(run_dir)
    if force:  # the previous attempt is retired as a whole
        return Plan(True, "force=true: the previous attempt is retired")
    prior = RunStatus(run_dir).read() or {}
    if prior.get("state") not in STATES:
        prior = {}  # malformed: backed up and rewritten by the attempt
    if prior.get("fingerprint") not in (None, fingerprint):
        raise RunConflict(
            f"{run_dir} holds a run of another config "
            f"({describe_difference(prior.get('config') or {}, items)}); rerun with force=true "
            "to retire it (moved to retired/) and train this config"
        )
    if prior.get("state") == "completed":
        done = epochs_trained(prior)
        stopped = (prior.get("results") or {}).get("stopped_epoch")
        if done is None or max_epochs == done or (stopped is not None and max_epochs > done):
            why = f" ({done} epochs" + (
                ", ended by early stopping)" if stopped is not None else ")"
            )
            return Plan(False, f"already completed{why if done is not None else ''}: {run_dir} "
                               "(force=true retrains)", prior=prior)  # fmt: skip
        if max_epochs < done:
            raise RunConflict(
                f"{run_dir} holds a completed run of {done} epochs; trainer.max_epochs={max_epochs} "
                "asks for fewer: use another name= for a shorter run, or force=true to retrain it"
            )
    checkpoint, unreadable = inspect_checkpoints(run_dir / "checkpoints", fingerprint, items)
    if prior.get("state") == "completed":
        if checkpoint is None:
            raise RunConflict(
                f"{run_dir} holds a completed run of {epochs_trained(prior)} epochs but no intact "
                f"checkpoint to continue it to trainer.max_epochs={max_epochs}; force=true retrains"
            )
        message = (
            f"continuing the completed {epochs_trained(prior)}-epoch run to {max_epochs} epochs"
        )
        return Plan(True, message, checkpoint, unreadable, prior)
    return Plan(True, "", checkpoint, unreadable, prior)
