"""Loggers of a run: CSV always, wandb (offline by default) when ``logger=wandb``.

wandb is built here rather than by plain ``instantiate`` because it needs, at creation time, the
fully resolved config (offline runs can lose config set later), a stable run id (so a resumed
run continues the same wandb run) and a group/name derived from the study.

Every metric is plotted against ``epochs_trained`` (``define_metric`` by exact name, before its
first value: Lightning's own x-axis would be the optimizer step; :mod:`xmsem.lit.epochs`).
What a run sends to wandb besides Lightning's scalars (all from the snapshot callback): the
alignment scalars, a ``wandb.Table`` of every alignment row of each snapshot, interactive
layer x layer / member x member CKA heatmaps (``wandb.plot_table`` with wandb's heatmap preset),
and, when ``logger.wandb.artifacts.reps`` / ``.checkpoints`` are on, the snapshot files and the
last checkpoint as artifacts at the end of the run.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from xmsem.lit.epochs import EPOCH_AXIS
from xmsem.runs.fingerprint import stable_run_id

WANDB_MODES = ("offline", "online", "disabled")
log = logging.getLogger("xmsem.train")
HEATMAP_PRESET = "wandb/confusion_matrix/v1"  # wandb's interactive heatmap (x, y, value) chart


def run_name(cfg: DictConfig) -> str:
    """Human-readable run name: members, dataset and seed (e.g. ``pgnn+mlp-fmnist-s3``)."""
    members = "+".join(cfg.model.keys())
    return f"{members}-{cfg.data.name}-s{cfg.seed}"


_USER_WANDB_DIRS = {v for v in ("WANDB_DATA_DIR", "WANDB_CACHE_DIR") if v in os.environ}


def keep_wandb_files_in(run_dir: Path) -> None:
    """wandb's staging and cache files under ``<run>/wandb/`` instead of the user's home (16
    staging files per run there otherwise), unless the user set these folders themselves."""
    for var, sub in (("WANDB_DATA_DIR", "data"), ("WANDB_CACHE_DIR", "cache")):
        if var not in _USER_WANDB_DIRS:
            os.environ[var] = str(Path(run_dir).resolve() / "wandb" / sub)


def epochs_wandb_logger_class() -> type:
    """Lightning's WandbLogger, quiet and with every metric plotted against ``epochs_trained``.

    Each new key is defined with ``step_metric=epochs_trained`` before its first value (an exact
    definition wins over Lightning's ``*`` -> ``trainer/global_step`` glob); ``defined`` holds the
    keys done. wandb's own ~35 lines per run (banner, history sparklines, summary, sync hint) are
    silenced; the run prints one line instead when it starts (:func:`wandb_line`)."""
    from lightning.pytorch.loggers import WandbLogger
    from lightning.pytorch.utilities import rank_zero_only

    class EpochsWandbLogger(WandbLogger):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.defined: set[str] = set()
            if self._wandb_init.get("anonymous") is None:  # else wandb warns it has no effect
                self._wandb_init.pop("anonymous", None)

        @property
        def experiment(self) -> Any:
            first = self._experiment is None
            run = super().experiment
            if first and hasattr(run, "dir"):  # the real run (not rank > 0's dummy)
                log.info("%s", wandb_line(run, self._wandb_init.get("mode")))
            return run

        @rank_zero_only
        def log_metrics(self, metrics: Mapping[str, float], step: int | None = None) -> None:
            define_epoch_axis(self.experiment, metrics, self.defined)
            super().log_metrics(metrics, step)

    return EpochsWandbLogger


def wandb_line(run: Any, mode: str | None) -> str:
    """The one line a run prints about its wandb run: where it is and how to upload it."""
    folder = Path(run.dir).parent  # <save_dir>/wandb/<offline-run-...>/files -> the run folder
    if mode == "offline":
        return f"wandb: offline run {run.id}; upload with: wandb sync {folder}"
    return f"wandb: run {run.id} at {getattr(run, 'url', None) or folder}"


def is_wandb(logger: Any) -> bool:
    """Whether ``logger`` is a (subclass of Lightning's) WandbLogger, without importing wandb."""
    return any(cls.__name__ == "WandbLogger" for cls in type(logger).__mro__)


def build_wandb_logger(cfg: DictConfig, node: DictConfig, run_dir: Path) -> Any:
    """A WandbLogger for this run (offline unless ``logger.wandb.mode=online``), plotting every
    metric against ``epochs_trained``."""
    WandbLogger = epochs_wandb_logger_class()

    keep_wandb_files_in(run_dir)
    mode = node.get("mode", "offline")
    if mode not in WANDB_MODES:
        raise ValueError(f"logger.wandb.mode={mode!r} is not one of {', '.join(WANDB_MODES)}")
    resolved = OmegaConf.to_container(cfg, resolve=True)
    return WandbLogger(
        project=node.get("project", "xmsem"),
        entity=node.get("entity"),
        group=node.get("group") or cfg.name,
        name=run_name(cfg),
        id=stable_run_id(run_dir),
        resume="allow",
        save_dir=str(run_dir),
        offline=mode == "offline",
        mode=mode,
        tags=list(node.get("tags") or []),
        config=resolved,
        log_model=False,
        settings=quiet_settings(),
    )


def quiet_settings(terminal: bool = False) -> Any:
    """wandb settings that print nothing (the run's own line replaces wandb's banner, summary and
    artifact progress); ``terminal``: also for wandb's messages outside the run's own (artifact
    progress), which follow the settings wandb loaded when the run started. ``WANDB_SILENT=false``
    keeps wandb's own output."""
    import wandb

    if os.environ.get("WANDB_SILENT", "").lower() == "false":
        return wandb.Settings()
    settings = wandb.Settings(silent=True)
    if terminal:
        wandb.termsetup(settings, None)
    return settings


def wandb_runs(loggers: Iterable[Any]) -> list[Any]:
    r"""The wandb run objects of the ``WandbLogger``\ s among ``loggers``."""
    return [lg.experiment for lg in loggers if is_wandb(lg)]


def define_epoch_axis(run: Any, keys: Iterable[str], defined: set[str]) -> None:
    """Plot ``keys`` against ``epochs_trained`` (each defined once, exactly by name, since an
    exact definition wins over Lightning's ``*`` -> ``trainer/global_step`` glob)."""
    if EPOCH_AXIS not in defined:
        run.define_metric(EPOCH_AXIS)
        defined.add(EPOCH_AXIS)
    for key in keys:
        if key not in defined and key != EPOCH_AXIS:
            run.define_metric(key, step_metric=EPOCH_AXIS)
            defined.add(key)


def rows_table(rows: Sequence[Mapping[str, Any]]) -> Any:
    """The alignment rows of a snapshot as a ``wandb.Table`` (with each metric's human label)."""
    import wandb

    from xmsem.alignment import quantity
    from xmsem.snapshots.table import CSV_COLUMNS

    columns = [*CSV_COLUMNS, "label"]
    data = [[r.get(c) for c in CSV_COLUMNS] + [quantity(str(r["metric"])).label] for r in rows]
    return wandb.Table(columns=columns, data=data)


def heatmap_chart(row_labels: Sequence[str], col_labels: Sequence[str], matrix, title: str,
                  names: tuple[str, str, str]) -> Any:  # fmt: skip
    """An interactive heatmap: a table of (row, column, value) cells drawn with wandb's heatmap
    preset; ``names`` are the table's column names (e.g. layer A, layer B, linear CKA)."""
    import math

    import wandb

    data = [[r, c, float(matrix[i][j])] for i, r in enumerate(row_labels)
            for j, c in enumerate(col_labels) if not math.isnan(float(matrix[i][j]))]  # fmt: skip
    table = wandb.Table(columns=list(names), data=data)
    fields = {"Actual": names[0], "Predicted": names[1], "nPredictions": names[2]}
    return wandb.plot_table(HEATMAP_PRESET, table, fields, {"title": title})


def log_snapshot(
    run: Any,
    rows: Sequence[Mapping[str, Any]],
    scalars: Mapping[str, float],
    epoch: int,
    step: int,
    defined: set[str],
    heatmap_members: Sequence[str] = (),
    primary: Mapping[str, str] | None = None,
) -> None:
    """One snapshot to a wandb run, in one ``log`` call: the scalars against ``epochs_trained``,
    the rows as a table, and (for ``heatmap_members``) the interactive layer x layer CKA heatmap of
    each and the member x member one at the primary layers."""
    from xmsem.snapshots.table import layer_matrix, member_matrix

    define_epoch_axis(run, scalars, defined)
    payload: dict[str, Any] = {**scalars, EPOCH_AXIS: epoch, "trainer/global_step": step}
    payload["alignment/rows"] = rows_table(rows)
    names = ("layer A", "layer B", "linear CKA")
    for member in heatmap_members:
        labels, matrix = layer_matrix(rows, member)
        if labels:
            payload[f"heatmap/layer_cka/{member}"] = heatmap_chart(
                labels, labels, matrix, f"{member}: layer x layer linear CKA (epoch {epoch})", names
            )
    if len(heatmap_members) > 1:
        members = list(heatmap_members)
        matrix = member_matrix(rows, members, primary or {})
        payload["heatmap/member_cka"] = heatmap_chart(
            members, members, matrix, f"member x member linear CKA, primary layers (epoch {epoch})",
            ("model A", "model B", "linear CKA"),
        )  # fmt: skip
    run.log(payload)


def log_artifacts(loggers: Iterable[Any], node: Any, run_dir: Path) -> list[str]:
    """Upload ``reps/`` and/or ``checkpoints/last.ckpt`` as wandb artifacts when switched on in
    ``logger.wandb.artifacts``; returns the artifact names."""
    runs = wandb_runs(loggers)
    wanted = dict((node or {}).get("artifacts") or {})
    if not runs or not any(wanted.values()):
        return []
    import wandb

    quiet_settings(terminal=True)  # no "Adding directory to artifact" lines
    names = []
    run_id = stable_run_id(run_dir)
    reps, ckpt = Path(run_dir) / "reps", Path(run_dir) / "checkpoints" / "last.ckpt"
    for run in runs:
        if wanted.get("reps") and reps.is_dir():
            art = wandb.Artifact(f"reps-{run_id}", type="representations")
            art.add_dir(str(reps))
            run.log_artifact(art)
            names.append(art.name)
        if wanted.get("checkpoints") and ckpt.is_file():
            art = wandb.Artifact(f"checkpoint-{run_id}", type="model")
            art.add_file(str(ckpt))
            run.log_artifact(art)
            names.append(art.name)
    return names


def build_loggers(cfg: DictConfig, run_dir: Path) -> list[Any]:
    """Every logger configured under ``cfg.logger`` (``null`` entries are skipped)."""
    loggers = []
    for key, node in (cfg.get("logger") or {}).items():
        if node is None:
            continue
        if key == "wandb":
            loggers.append(build_wandb_logger(cfg, node, run_dir))
        else:
            loggers.append(instantiate(node))
    return loggers


def finish_loggers(loggers: list[Any], failed: bool) -> None:
    """Flush every logger; close the wandb run with exit code 1 when the job failed."""
    for lg in loggers:
        lg.finalize("failed" if failed else "success")
    finish_active_wandb(failed)


def finish_active_wandb(failed: bool) -> None:
    """``wandb.finish`` the active run, if any (sequential jobs must not share a run)."""
    import sys

    if "wandb" not in sys.modules:
        return
    import wandb

    if wandb.run is not None:
        wandb.finish(exit_code=1 if failed else 0)
