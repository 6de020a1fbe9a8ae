"""Hydra entry point: ``python -m xmsem.train [overrides]`` trains one cohort run (or a sweep).

A run directory is deterministic (``outputs/runs/<name>/<overrides>`` or, in a sweep,
``outputs/sweeps/<name>/<overrides>``), so rerunning a command continues it: a completed run is
skipped, an interrupted one resumes from ``checkpoints/last.ckpt``, a failed one is retried.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import sys
import time
from pathlib import Path
from typing import Any

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig

from xmsem.config import CONF_DIR, ConfigError, to_plain
from xmsem.runs import RunStatus, environment_info
from xmsem.runs.allocator import keep_freed_memory
from xmsem.runs.fingerprint import RunConflict, config_items, fingerprint
from xmsem.runs.folder import discard_unstarted, remove_stale_temps, retire_attempt
from xmsem.runs.lock import RunLocked, run_lock
from xmsem.runs.signals import Interrupted, interrupt_from, raise_if_interrupted
from xmsem.runs.status import EPOCH_CONVENTION

log = logging.getLogger("xmsem.train")


# --------------------------------------------------------------------------- building blocks
def build_datamodule(cfg: DictConfig):
    """The TensorDataModule of ``cfg.data`` (nothing is loaded until ``prepare()``)."""
    from xmsem.data import TensorDataModule, get_dataset

    data = to_plain(cfg.data)
    spec = get_dataset(data["name"])
    shuffled = any(
        (spec or {}).get("labels", "true") == "shuffled" for spec in to_plain(cfg.model).values()
    )
    return TensorDataModule(
        loader=lambda: spec.load(data),
        batch_size=data["batch_size"],
        val_size=data["val_size"],
        split_seed=data["split_seed"],
        seed=cfg.seed,
        copies=int(cfg.get("ensemble", 1)),
        data_order=str(cfg.get("data_order", "same")),
        shuffled_labels=shuffled,
        first_copy=int(cfg.get("first_copy", 0)),
    )


def build_cohort(
    cfg: DictConfig, input_dim: int, num_classes: int, image_shape: tuple[int, ...] | None = None
):
    """The CohortModule with every member of ``cfg.model`` built from its own derived seed
    (``ensemble=K``: K copies of every member, copy ``first_copy + k`` seeded from (run seed,
    member, first_copy + k)).

    ``image_shape``: the dataset's shape of one example; image members see inputs in it."""
    from xmsem.lit.cohort import CohortModule, build_members, member_options
    from xmsem.models import build_model

    specs = to_plain(cfg.model)
    split = {name: member_options(spec) for name, spec in specs.items()}
    copies, first = int(cfg.get("ensemble", 1)), int(cfg.get("first_copy", 0))
    members = build_members(
        {name: net for name, (net, _) in split.items()},
        cfg.seed if cfg.seed is not None else 0,
        lambda spec: build_model(spec, input_dim, num_classes, image_shape=image_shape),
        copies=copies,
        first=first,
    )
    return CohortModule(
        members,
        num_classes=num_classes,
        lr=cfg.optim.lr,
        weight_decay=cfg.optim.weight_decay,
        copies=copies,
        per_copy=cfg.get("data_order", "same") == "per_copy",
        labels={name: opts.get("labels", "true") for name, (_, opts) in split.items()},
        first_copy=first,
        member_weight_decay={
            name: float(opts["weight_decay"])
            for name, (_, opts) in split.items()
            if "weight_decay" in opts
        },  # fmt: skip
    )


def build_loggers(cfg: DictConfig, run_dir: Path) -> list[Any]:
    """Instantiate every logger in ``cfg.logger`` (CSV always; wandb when selected)."""
    from xmsem.lit.loggers import build_loggers as _build

    return _build(cfg, run_dir)


def build_callbacks(cfg: DictConfig, run_dir: Path, datamodule, cohort) -> list[Any]:
    """Checkpointing (last.ckpt and epochNNN.ckpt, NNN = epochs trained, every epoch), epoch
    timing and the representation callback."""
    from xmsem.lit.early_stopping import build_validation_callbacks
    from xmsem.lit.epochs import EpochsTrainedCheckpoint
    from xmsem.lit.noise import build_noise_callback
    from xmsem.lit.progress import EpochLines
    from xmsem.lit.representations import build_representation_callback
    from xmsem.lit.timing import EpochTimer

    callbacks: list[Any] = [
        EpochsTrainedCheckpoint(
            dirpath=run_dir / "checkpoints",
            filename="epoch{epoch:03d}",  # epochs trained: the weights of reps/epoch_NNN
            auto_insert_metric_name=False,
            save_last=True,  # Lightning writes last.ckpt only when a top-k file is written too
            save_top_k=1,  # no monitor: keeps the newest epoch file
            enable_version_counter=False,  # one process per run (flock): never last-v1.ckpt
            every_n_epochs=1,
            save_on_train_epoch_end=True,
        ),
        EpochTimer(),
        EpochLines(),
        *build_validation_callbacks(cfg, run_dir),
    ]
    rep = build_representation_callback(cfg, run_dir, datamodule, cohort)
    if rep is not None:
        callbacks.append(rep)
    noise = build_noise_callback(cfg, run_dir, datamodule)
    if noise is not None:
        callbacks.append(noise)
    return callbacks


# --------------------------------------------------------------------------- one run
def run(cfg: DictConfig, run_dir: Path) -> dict[str, Any]:
    """Validate, then train and test one cohort in ``run_dir``; return the test results.

    One process per run folder (a second one is skipped, :class:`RunLocked`). Skips a completed
    run of the same config (continues it when ``trainer.max_epochs`` was raised); ``force=true``
    retires the previous attempt to ``retired/``; otherwise resumes from the newest intact
    checkpoint of this config. An attempt that does not train changes nothing in the folder.
    """
    from xmsem.lit.validation import validate_run_config

    validate_run_config(cfg)
    raise_if_interrupted()  # a signal between the jobs of a sweep: the next one does not start
    with run_lock(run_dir) as lock:
        return _run_locked(cfg, run_dir, lock)


def _begin_attempt(cfg: DictConfig, run_dir: Path, plan, lock) -> None:
    """The attempt trains: only from here on is the folder written (record, log, housekeeping)."""
    from xmsem.runs.checkpoints import quarantine
    from xmsem.runs.record import write_config_record
    from xmsem.runs.runlog import start_run_logs

    lock.claim()
    if cfg.force:
        retire_attempt(run_dir)
    start_run_logs()
    write_config_record(run_dir, cfg)
    RunStatus(run_dir).recover()  # a corrupt or wrong-shaped status.json: backed up, rewritten
    remove_stale_temps(run_dir)
    quarantine(plan.unreadable, plan.checkpoint)
    if plan.message:
        log.info("xmsem: %s", plan.message)


def _run_locked(cfg: DictConfig, run_dir: Path, lock) -> dict[str, Any]:
    from xmsem.runs.attempt import plan_attempt

    status = RunStatus(run_dir)
    items = config_items(cfg)
    fp = fingerprint(items)
    max_epochs = int(cfg.trainer.max_epochs)
    plan = plan_attempt(run_dir, fp, items, max_epochs, bool(cfg.force))
    if not plan.trains:
        log.info("xmsem: %s", plan.message)
        return plan.prior.get("results", {})
    prior, ckpt = plan.prior, plan.checkpoint

    datamodule, cohort, params = _prepare_members(cfg)
    _begin_attempt(cfg, run_dir, plan, lock)
    loggers = build_loggers(cfg, run_dir)
    callbacks = build_callbacks(cfg, run_dir, datamodule, cohort)
    trainer = _build_trainer(cfg, run_dir, loggers, callbacks, fp, items)
    device = _device_name(trainer)
    status.write(
        "running",
        error=None,
        results=None,
        max_epochs=max_epochs,
        attempts=int(prior.get("attempts", 0)) + 1,
        started=prior.get("started") or time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        resumed_from=str(ckpt) if ckpt else None,
        overrides=list(HydraConfig.get().overrides.task) if HydraConfig.initialized() else [],
        parameters=params,
        fingerprint=fp,
        config=items,
        epoch_convention=EPOCH_CONVENTION,
        **environment_info(device),
    )
    for lg in loggers:
        lg.log_hyperparams({"parameters": params})
    log.info("run dir %s | members %s | device %s", run_dir, params, device)

    try:
        results, fit_seconds, epochs_done = _fit_and_test(
            cfg, trainer, cohort, datamodule, callbacks, ckpt
        )
    except BaseException as err:
        interrupted = interrupt_from(err)
        if interrupted is None:
            raise
        _record_interruption(run_dir, trainer, interrupted, loggers)
        raise interrupted from None
    status.write(
        "completed",
        results=results,
        epochs_trained=epochs_done,
        fit_seconds=round(fit_seconds, 3),
    )
    _finish(cfg, run_dir, loggers, results)
    return results


def _prepare_members(cfg: DictConfig) -> tuple[Any, Any, dict[str, int]]:
    """Seed, load the data and build the cohort, before the folder is written: (datamodule,
    cohort, parameters of one network per member). A missing dataset or a member the data
    cannot feed fails here, in one line."""
    import lightning as L

    from xmsem.models import count_parameters

    keep_freed_memory()  # large snapshot buffers are reused, not page-faulted anew
    if cfg.seed is not None:  # seed 0 is a seed
        L.seed_everything(cfg.seed, workers=False, verbose=False)
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")

    datamodule = build_datamodule(cfg)
    try:
        raw = datamodule.prepare()  # a missing dataset fails here, before any training
    except ValueError as err:  # impossible sizes (data.val_size beyond the split): one line
        raise DataProblem(str(err)) from None
    try:  # before any training: a member the data cannot feed is a config error
        cohort = build_cohort(cfg, raw.input_dim, raw.num_classes, raw.image_shape)
    except ValueError as err:
        raise ConfigError(str(err)) from None
    # parameters of one network per member (every copy of an ensemble has the same count)
    params = {name: count_parameters(net) // cohort.copies for name, net in cohort.members.items()}
    return datamodule, cohort, params


def _build_trainer(cfg: DictConfig, run_dir: Path, loggers, callbacks, fp, items):
    """The Lightning Trainer of ``cfg.trainer``, with the run's own callbacks appended to
    ``callbacks`` (fingerprint stamp, divergence guard, signal stop)."""
    from hydra.utils import instantiate

    from xmsem.lit.progress import quiet_lightning
    from xmsem.runs.checkpoints import AtomicCheckpointIO, FingerprintStamp
    from xmsem.runs.divergence import DivergenceGuard
    from xmsem.runs.signals import stop_callback

    callbacks += [
        FingerprintStamp(fp, items),
        DivergenceGuard(cfg.get("on_divergence", "stop")),
        stop_callback(),
    ]
    bar = progress_bar(cfg)
    quiet_lightning(bar)
    return instantiate(
        cfg.trainer,
        logger=loggers,
        callbacks=callbacks,
        default_root_dir=str(run_dir),
        enable_progress_bar=bar,
        plugins=[AtomicCheckpointIO()],
    )


def _device_name(trainer) -> str:
    import torch

    device = str(trainer.strategy.root_device)
    if device.startswith("cuda"):
        device += f" ({torch.cuda.get_device_name(trainer.strategy.root_device)})"
    return device


def _fit_and_test(cfg, trainer, cohort, datamodule, callbacks, ckpt):
    """Fit (resuming from ``ckpt``), then test: (results, fit seconds, epochs trained)."""
    from xmsem.runs.divergence import raise_if_diverged

    t0 = time.perf_counter()
    try:
        trainer.fit(
            cohort,
            datamodule=datamodule,
            ckpt_path=str(ckpt) if ckpt else None,
            weights_only=True,
        )
    except Exception as err:  # e.g. an eigensolver on NaN weights: say it diverged, in one line
        raise_if_diverged(cohort, trainer, err)
        raise
    fit_seconds = time.perf_counter() - t0
    # read before testing: testing a checkpoint restores the module's and callbacks' state
    results: dict[str, Any] = {}
    for i, name in enumerate(cohort.model_names):
        results[f"val/{name}/best_acc"] = float(cohort.best_val_acc[i])
        results[f"val/{name}/best_epoch"] = int(cohort.best_val_epoch[i])
    from xmsem.lit.epochs import EPOCH_AXIS, after_fit

    epochs_done = after_fit(trainer)
    results["epochs"] = epochs_done
    results.update(_validation_results(cfg, callbacks))
    raise_if_interrupted()  # Lightning ends fit normally after SIGTERM between its checks
    test_ckpt = _test_checkpoint(callbacks)
    tested = trainer.test(
        cohort, datamodule=datamodule, verbose=False, ckpt_path=test_ckpt, weights_only=True
    )
    raise_if_interrupted()
    # the test's metrics; its row's epoch keys are the loggers' (results say "epochs")
    results.update({k: float(v) for k, v in (tested[0] if tested else {}).items()
                    if k not in ("epoch", EPOCH_AXIS)})  # fmt: skip
    results["tested_on"] = "best" if test_ckpt else "last"
    return results, fit_seconds, epochs_done


def _finish(cfg: DictConfig, run_dir: Path, loggers, results: dict[str, Any]) -> None:
    """Artifacts and logger shutdown of a completed run, and its summary line."""
    from xmsem.lit.loggers import finish_loggers, log_artifacts
    from xmsem.lit.progress import run_summary
    from xmsem.snapshots.table import read_rows

    log_artifacts(loggers, (cfg.get("logger") or {}).get("wandb"), run_dir)
    finish_loggers(loggers, failed=False)
    log.info("%s", run_summary(results, read_rows(run_dir), run_dir, run_dir.parent))


def _record_interruption(run_dir: Path, trainer, interrupted: Interrupted, loggers) -> None:
    """status.json ``interrupted``, naming the checkpoint a rerun resumes from; loggers closed.

    The checkpoint kept is the last complete epoch's (written atomically at every epoch end):
    a partial epoch is trained again on resume, so the resumed run equals an uninterrupted one.
    """
    from xmsem.lit.loggers import finish_loggers

    last = Path(run_dir) / "checkpoints" / "last.ckpt"
    resume = f"resumes from {last}" if last.is_file() else "starts over (no epoch was completed)"
    message = (
        f"{interrupted} during epoch {trainer.current_epoch + 1}; rerunning the same command "
        f"{resume}"
    )
    RunStatus(run_dir).write("interrupted", error=message)
    log.warning("xmsem: %s", message)
    with contextlib.suppress(Exception):
        finish_loggers(loggers, failed=True)


def progress_bar(cfg: DictConfig) -> bool:
    """``trainer.enable_progress_bar``; null (the default) = a bar when the terminal is
    interactive (per-epoch lines are printed either way)."""
    value = cfg.trainer.get("enable_progress_bar")
    return sys.stderr.isatty() if value is None else bool(value)


def _validation_results(cfg: DictConfig, callbacks: list[Any]) -> dict[str, Any]:
    """Convergence measures per model, and where early stopping stopped (None: it did not)."""
    from xmsem.lit.early_stopping import ValidationTracker, settings

    tracker = next(c for c in callbacks if isinstance(c, ValidationTracker))
    _, conv = settings(cfg)
    out: dict[str, Any] = dict(tracker.results(float(conv.fraction)))
    out["convergence_fraction"] = float(conv.fraction)
    out["stopped_epoch"] = tracker.stopped_epoch
    return out


def _test_checkpoint(callbacks: list[Any]) -> str | None:
    """The best-validation checkpoint when ``test_on=best`` (None: test the final weights)."""
    from lightning.pytorch.callbacks import ModelCheckpoint

    from xmsem.lit.early_stopping import MONITOR

    for cb in callbacks:
        if isinstance(cb, ModelCheckpoint) and cb.monitor == MONITOR:
            if not cb.best_model_path or not Path(cb.best_model_path).is_file():
                raise RuntimeError(
                    "callbacks.early_stopping.test_on=best but no best checkpoint was written"
                )
            return cb.best_model_path
    return None


# --------------------------------------------------------------------------- hydra task
class DataProblem(ValueError):
    """The data cannot be prepared as configured (e.g. a validation split larger than the data)."""


# failures that are one line for the user (no traceback): the message says what to do
_DISK_ERRORS = {errno.ENOSPC, errno.EDQUOT, errno.EACCES, errno.EPERM, errno.EROFS}


def _one_line_failure(err: BaseException) -> str | None:
    """The one-line message of an expected failure, or None for a bug (traceback wanted)."""
    from xmsem.runs.divergence import Diverged
    from xmsem.runs.safeload import UnreadableFile
    from xmsem.snapshots.table import TableError

    if isinstance(err, (Diverged, RunConflict, TableError, UnreadableFile, DataProblem)):
        return str(err)
    if isinstance(err, OSError) and err.errno in _DISK_ERRORS:
        where = err.filename or "the run folder"
        return f"{os.strerror(err.errno).lower()} writing {where}"
    if isinstance(err, FileNotFoundError):
        return str(err)
    return None


@hydra.main(version_base="1.3", config_path=str(CONF_DIR), config_name="config")
def main(cfg: DictConfig) -> dict[str, Any] | None:
    """Hydra task: run one job; in a sweep a failing job is recorded and the sweep goes on."""
    hc = HydraConfig.get()
    run_dir = Path(hc.runtime.output_dir)
    multirun = hc.mode == RunMode.MULTIRUN
    from xmsem.runs import signals

    signals.install()  # SIGTERM / SIGINT: stop at a clean point, record it, exit 143 / 130
    try:
        return run(cfg, run_dir)
    except Interrupted as err:
        print(f"xmsem: {err}: {run_dir}; rerun the same command to resume", file=sys.stderr)
        if multirun:  # Hydra runs no end-of-sweep callback when a job raises: summarise here
            from xmsem.runs.sweep_summary import summarise_interrupted

            summarise_interrupted(Path(str(hc.sweep.dir)), str(err))
        raise SystemExit(err.exit_code) from None
    except ConfigError as err:  # the user's typo: stop everything, leave no run folder behind
        discard_unstarted(run_dir)
        _die(f"config error: {err}")
    except RunLocked as err:  # another process trains this run: skipped, not an error (exit 0,
        # so launchers running jobs as processes, e.g. local_gpus, do not count it as failed)
        log.warning("xmsem: %s", err)
        if not multirun:
            print(f"xmsem: {err}", file=sys.stderr)
        return None
    except RunConflict as err:  # the folder's own run is left untouched, byte for byte
        from xmsem.runs.sweep_summary import job_refused

        refused = job_refused(run_dir, str(err), multirun)  # counted by the sweep's summary
        if multirun:
            log.error("xmsem: job refused (the sweep goes on): %s", err)
            return refused
        _die(str(err), code=2)
    except Exception as err:  # record it; a single run fails loudly, a sweep goes on
        message = _one_line_failure(err)
        # the disk that failed the run may refuse this write too: then the old file stays;
        # a conflict leaves the folder's (other) run as it was
        with contextlib.suppress(OSError):
            if not isinstance(err, RunConflict):
                RunStatus(run_dir).write("failed", error=message or f"{type(err).__name__}: {err}")
        from xmsem.lit.loggers import finish_active_wandb

        finish_active_wandb(failed=True)
        if multirun:
            if message:
                log.error("xmsem: job failed (the sweep goes on): %s: %s", run_dir, message)
            else:
                log.exception("job failed (the sweep goes on): %s", run_dir)
            return None
        if message:
            _die(message, code=2 if isinstance(err, (OSError, RunConflict)) else 1)
        raise
    return None


def _die(message: str, code: int = 2) -> None:
    print(f"xmsem: {message}", file=sys.stderr)
    raise SystemExit(code)


def cli(argv: list[str] | None = None) -> None:
    """Command-line entry: check group choices first (one-line errors), then hand over to Hydra."""
    from xmsem.cli.checks import check_group_overrides
    from xmsem.cli.overrides import check_key_overrides

    argv = sys.argv[1:] if argv is None else argv
    problem = check_group_overrides(argv, CONF_DIR) or check_key_overrides(argv, CONF_DIR)
    if problem:
        _die(f"error: {problem}")
    main()


if __name__ == "__main__":
    cli()
