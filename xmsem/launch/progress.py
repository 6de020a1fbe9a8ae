"""Progress of a sweep: ``job k/N`` and an ETA from the throughput so far.

:class:`SweepClock` is shared by the two ways jobs are launched: the :class:`SweepProgress`
Hydra callback (Hydra's basic launcher, one job after another in this process) and the
``local_gpus`` launcher (jobs in parallel on GPU slots). The ETA is elapsed time / jobs finished x
jobs left, so parallel slots and skipped (already completed) jobs are accounted for as they occur.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

log = logging.getLogger("xmsem.sweep")


def duration(seconds: float) -> str:
    """``42s``, ``3m05s``, ``1h02m``."""
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


class SweepClock:
    """Counts the jobs of a sweep of ``total`` jobs and estimates the time left."""

    def __init__(self, total: int | None, clock=time.monotonic) -> None:
        self.total, self.clock = total, clock
        self.start = clock()
        self.finished = 0

    def eta(self) -> str:
        """``ETA 3m05s`` once a job has finished, else ``ETA ?``."""
        if not self.finished or self.total is None:
            return "ETA ?"
        left = max(0, self.total - self.finished)
        return f"ETA {duration((self.clock() - self.start) / self.finished * left)}"

    def line(self, index: int, what: str) -> str:
        """``job k/N: <what> | elapsed 1m02s | ETA 3m05s`` for the job of 0-based ``index``."""
        of = f"/{self.total}" if self.total is not None else ""
        elapsed = duration(self.clock() - self.start)
        return f"job {index + 1}{of}: {what} | elapsed {elapsed} | {self.eta()}"

    def done(self) -> None:
        self.finished += 1


def count_jobs(config: DictConfig) -> int | None:
    """Jobs of the basic sweeper's sweep: the product of the swept values of the sweep's own
    ``hydra.sweeper.params`` and the command line (the command line wins per key)."""
    try:
        from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
        from hydra.core.override_parser.overrides_parser import OverridesParser

        params = {str(k): str(v) for k, v in (config.hydra.sweeper.get("params") or {}).items()}
        for text in config.hydra.overrides.task:
            key, _, value = str(text).partition("=")
            params[key] = value
        parsed = OverridesParser.create().parse_overrides([f"{k}={v}" for k, v in params.items()])
        return sum(len(batch) for batch in BasicSweeper.split_arguments(parsed, None))
    except Exception:  # an unusual sweeper: no total, the lines still count jobs
        return None


class SweepProgress(Callback):
    """Hydra callback: ``job k/N: <overrides> | elapsed | ETA`` as each job of a multirun starts."""

    def __init__(self) -> None:
        self.clock: SweepClock | None = None

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        total = count_jobs(config)
        self.clock = SweepClock(total)
        log.info(f"sweep of {total if total is not None else '?'} jobs -> {config.hydra.sweep.dir}")

    def on_job_start(self, config: DictConfig, **kwargs: Any) -> None:
        if self.clock is None or "num" not in config.hydra.job:
            return
        what = config.hydra.job.get("override_dirname") or "defaults"
        log.info(self.clock.line(int(config.hydra.job.num), what))

    def on_job_end(self, config: DictConfig, job_return: Any, **kwargs: Any) -> None:
        if self.clock is not None:
            self.clock.done()
