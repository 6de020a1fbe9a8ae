"""Hydra callback printing the state of every job of a sweep when the sweep ends.

Registered in conf/hydra/default.yaml. A job that fails is recorded in its status.json and the sweep
goes on (see xmsem.train); at the end this prints one line per failed or unfinished job and a
count, and makes the sweep command exit with status 1 when any job of the sweep failed, so
scripts notice. Rerunning the same command retries exactly those jobs.

A *refused* job (its folder holds a run of another config, or fewer epochs were asked than it
has) leaves its folder untouched, so its status.json still describes the folder's own run: it is
counted and printed as refused, never as that run's state, under every launcher:

* the basic launcher (jobs in this process): the job returns :class:`Refused`, seen here in
  ``on_job_end``;
* submitit (``launcher=slurm``): the job returns :class:`Refused` in its own process; the
  launcher (``hydra_plugins.xmsem_launchers.submitit``) hands the returns to :func:`note_refused`;
* ``local_gpus`` (every job a ``python -m xmsem.train`` in RUN mode): the job writes why into
  the file named by ``$XMSEM_REFUSED_FILE`` (outside its folder) and exits 2; the launcher reads
  it and calls :func:`note_refused`.

An interrupted sweep prints the summary too.
"""

from __future__ import annotations

import contextlib
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

log = logging.getLogger("xmsem.sweep")
SWEPT_KEYS_ENV = "XMSEM_SWEPT_KEYS"  # read by xmsem.config.run_id (the same name there)
REFUSED_FILE_ENV = "XMSEM_REFUSED_FILE"  # a job run as a process of a launcher: why it was refused


@dataclass(frozen=True)
class Refused:
    """What a sweep job returns when it was refused (nothing in its folder changed)."""

    run_dir: str
    reason: str


def job_refused(run_dir: Path, reason: str, multirun: bool) -> Refused:
    """What a sweep job does when it is refused (its folder is left as it was).

    Returns the :class:`Refused` to hand back to Hydra; for a job run as its own process by a
    launcher (RUN mode, ``$XMSEM_REFUSED_FILE`` set) it first writes ``reason`` into that file,
    and the caller exits 2 as a refused single run does.
    """
    path = os.environ.get(REFUSED_FILE_ENV)
    if not multirun and path:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text(reason + "\n", encoding="utf-8")
    return Refused(str(run_dir), reason)


def note_refused(job_returns: Any) -> None:
    """Count the :class:`Refused` among a launcher's job returns in this process's summary
    (launchers whose jobs run elsewhere: their ``on_job_end`` ran in the job's process)."""
    for ret in job_returns:
        value = getattr(ret, "_return_value", None)  # read without raising for a failed job
        if isinstance(value, Refused) and _ACTIVE is not None:
            _ACTIVE.add(value)


def sweep_states(sweep_dir: Path) -> dict[str, list[tuple[Path, dict]]]:
    """Jobs of ``sweep_dir`` (folders with a status.json) grouped by state."""
    from xmsem.runs.status import STATUS_FILE, RunStatus  # lazy: keeps Hydra's start-up light

    groups: dict[str, list[tuple[Path, dict]]] = {}
    for path in sorted(Path(sweep_dir).glob(f"*/{STATUS_FILE}")):
        data = RunStatus(path.parent).read() or {"state": "unreadable"}
        groups.setdefault(data.get("state", "unknown"), []).append((path.parent, data))
    return groups


def swept_keys(config: DictConfig) -> list[str]:
    """Keys with several values in this sweep (command line and ``hydra.sweeper.params``)."""
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from omegaconf import OmegaConf

    params = OmegaConf.select(config, "hydra.sweeper.params") or {}
    arguments = [f"{k}={v}" for k, v in params.items()] + list(config.hydra.overrides.task)
    parsed = OverridesParser.create().parse_overrides(arguments)
    return [ov.key_or_group.lstrip("+~") for ov in parsed if ov.is_sweep_override()]


class SweepSummary(Callback):
    """Prints completed / refused / failed / unfinished counts of the sweep dir at the end of a
    multirun; exit status 1 when a job failed or was refused."""

    def __init__(self, exit_on_failure: bool = True) -> None:
        self.exit_on_failure = exit_on_failure
        self.refused: list[Refused] = []

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        global _ACTIVE
        self.refused = []
        _ACTIVE = self
        if config is not None:  # job folders show the swept keys (xmsem.config.run_id)
            os.environ[SWEPT_KEYS_ENV] = ",".join(swept_keys(config))

    def on_job_end(self, config: DictConfig, job_return: Any, **kwargs: Any) -> None:
        try:
            value = job_return.return_value
        except Exception:  # a failed job: its status.json says so
            return
        if isinstance(value, Refused):
            self.add(value)

    def add(self, refused: Refused) -> None:
        """Count a refused job (once, however many times a launcher reports it)."""
        if refused not in self.refused:
            self.refused.append(refused)

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        os.environ.pop(SWEPT_KEYS_ENV, None)
        self.summarise(Path(str(config.hydra.sweep.dir)))

    def summarise(self, sweep_dir: Path, interrupted: str | None = None) -> None:
        """Print the summary; SystemExit(1) when a job failed or was refused."""
        refused_dirs = {Path(r.run_dir).resolve() for r in self.refused}
        groups = {
            state: kept
            for state, jobs in sweep_states(sweep_dir).items()
            if (kept := [(d, data) for d, data in jobs if d.resolve() not in refused_dirs])
        }
        if self.refused:
            groups["refused"] = [(Path(r.run_dir), {"error": r.reason}) for r in self.refused]
        counts = ", ".join(f"{len(v)} {k}" for k, v in sorted(groups.items()))
        print(
            f"xmsem sweep {sweep_dir}: {counts or 'no jobs'}"
            + (f" ({interrupted})" if interrupted else "")
        )
        for state in ("refused", "failed", "interrupted", "running", "unreadable"):
            for job_dir, data in groups.get(state, []):
                print(f"  {state}: {job_dir.name}: {data.get('error') or 'interrupted'}")
        if (groups.get("failed") or self.refused) and self.exit_on_failure:
            print("  rerun the same command to retry the failed jobs (completed ones are skipped)")
            raise SystemExit(1)


_ACTIVE: SweepSummary | None = None  # the summary of the sweep running in this process


def summarise_interrupted(sweep_dir: Path, why: str) -> None:
    """Print the summary of a sweep a signal stops (no SystemExit: the caller exits 143/130)."""
    summary = _ACTIVE or SweepSummary()
    with contextlib.suppress(SystemExit):
        summary.summarise(sweep_dir, interrupted=why)
