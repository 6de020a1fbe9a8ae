"""``xmsem_local_gpus``: a Hydra launcher that runs each sweep job in a fresh process on one GPU.

Why not joblib: it reuses worker processes (CUDA reads CUDA_VISIBLE_DEVICES once per process) and
hands jobs out dynamically (``job.num % n_gpus`` does not give one job per GPU). Here every job is
``<python> -m <module> <job overrides> hydra.mode=RUN hydra.run.dir=<job dir>`` in its own
process with ``CUDA_VISIBLE_DEVICES=<gpu>``; a pool of ``gpus x jobs_per_gpu`` slots is handed
out as jobs finish (``xmsem.launch.gpus``). The job dir is computed exactly as Hydra's basic launcher
computes it (``hydra.sweep.dir``/``hydra.sweep.subdir`` of the job's sweep config), so switching
launchers never moves a run. Each job's stdout+stderr go to ``<sweep dir>/.local_gpus/<job>.log``
while it runs, and into ``<job dir>/launcher.log`` once it has written there: a job that was
skipped or refused leaves every byte of its folder as it was.

A refused job (its folder holds another config's run) writes why into
``$XMSEM_REFUSED_FILE`` (``<sweep dir>/.local_gpus/<job>.refused``); it is returned to Hydra as
completed with a :class:`~xmsem.runs.sweep_summary.Refused` value and counted as refused by the
sweep summary, which then exits 1.
"""

import contextlib
import json
import logging
import os
import re
import shlex
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hydra.core.hydra_config import HydraConfig
from hydra.core.utils import JobReturn, JobStatus, configure_log, filter_overrides, setup_globals
from hydra.errors import CompactHydraException
from hydra.plugins.launcher import Launcher
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig, OmegaConf, open_dict

from xmsem.launch.gpus import (
    GpuConfigError,
    JobResult,
    Slot,
    build_slots,
    job_env,
    resolve_gpus,
    run_on_slots,
    summary_line,
)
from xmsem.launch.progress import SweepClock
from xmsem.runs.sweep_summary import REFUSED_FILE_ENV, Refused, note_refused

log = logging.getLogger(__name__)

# Hydra overrides of the sweep command that the job command sets itself.
_OWN_KEYS = {"hydra.mode", "hydra.run.dir", "hydra.job.num", "hydra.job.id"}


class JobProcessFailed(CompactHydraException):
    """A job's process exited with a non-zero code (its status.json says why).

    A CompactHydraException, so Hydra reports it as one line instead of a traceback.
    """


@dataclass
class _Job:
    """One job of the sweep: its number, overrides, folder, command and composed config."""

    idx: int
    overrides: list[str]
    dir: Path
    cmd: list[str]
    config: DictConfig
    staging: Path  # <sweep dir>/.local_gpus: the job's log while it runs, its refusal
    before: frozenset | None = None  # its folder's files when it started (_signature)

    @property
    def log(self) -> Path:
        return self.staging / f"{self.dir.name}.log"

    @property
    def refused_file(self) -> Path:
        return self.staging / f"{self.dir.name}.refused"


def quote_override_value(value: str) -> str:
    """``value`` as a single-quoted Hydra override value (commas, brackets, ``=`` kept literal)."""
    escaped = re.sub(r"(\\+)(?='|$)", lambda m: m.group(1) * 2, value)
    return "'" + escaped.replace("'", "\\'") + "'"


def _override_key(override: str) -> str:
    return override.split("=", 1)[0].lstrip("+~")


class LocalGpusLauncher(Launcher):
    """Runs each job in a fresh subprocess holding one GPU slot (see the module docstring)."""

    def __init__(
        self,
        gpus: Any = None,
        jobs_per_gpu: int = 1,
        python: str | None = None,
        module: str = "xmsem.train",
        poll_interval_s: float = 0.5,
    ) -> None:
        self.gpus = OmegaConf.to_container(gpus) if OmegaConf.is_config(gpus) else gpus
        self.jobs_per_gpu = jobs_per_gpu
        self.python = python or sys.executable
        self.module = module
        self.poll_interval_s = float(poll_interval_s)
        self.config: DictConfig | None = None
        self.task_function: TaskFunction | None = None
        self.hydra_context: HydraContext | None = None

    def setup(
        self,
        *,
        hydra_context: HydraContext,
        task_function: TaskFunction,
        config: DictConfig,
    ) -> None:
        """Keep what ``launch`` needs (the task function itself runs in the job processes)."""
        self.config = config
        self.hydra_context = hydra_context
        self.task_function = task_function

    # ------------------------------------------------------------------ building the jobs
    def _slots(self) -> list[Slot]:
        try:
            gpus = resolve_gpus(self.gpus)
            return build_slots(gpus, self.jobs_per_gpu)
        except GpuConfigError as err:
            print(f"xmsem: error: {err}", file=sys.stderr)
            raise SystemExit(2) from None

    def _job(self, idx: int, overrides: Sequence[str]) -> _Job:
        """Compose the job's config as the basic launcher does and build its command line."""
        assert self.config is not None and self.hydra_context is not None
        sweep_config = self.hydra_context.config_loader.load_sweep_config(
            self.config, list(overrides)
        )
        with open_dict(sweep_config):
            sweep_config.hydra.job.id = idx
            sweep_config.hydra.job.num = idx
        HydraConfig.instance().set_config(sweep_config)  # for ${hydra:...} in the dirs
        job_dir = os.path.join(
            str(OmegaConf.select(sweep_config, "hydra.sweep.dir")),
            str(OmegaConf.select(sweep_config, "hydra.sweep.subdir")),
        )
        hydra_overrides = [
            o for o in self.config.hydra.overrides.hydra if _override_key(o) not in _OWN_KEYS
        ]
        cmd = [
            self.python,
            "-m",
            self.module,
            *hydra_overrides,
            *overrides,
            "hydra.mode=RUN",
            f"hydra.run.dir={quote_override_value(os.path.abspath(job_dir))}",
            f"hydra.job.num={idx}",
            f"hydra.job.id={idx}",
        ]
        staging = Path(os.path.abspath(str(self.config.hydra.sweep.dir))) / ".local_gpus"
        return _Job(idx, list(overrides), Path(os.path.abspath(job_dir)), cmd, sweep_config,
                    staging)  # fmt: skip

    def _start(self, job: _Job, slot: Slot) -> subprocess.Popen[bytes]:
        """Start ``job`` on ``slot``: its own process, one GPU, output into its staged log (its
        folder is not touched here: the job decides whether it runs there)."""
        assert self.config is not None
        job.staging.mkdir(parents=True, exist_ok=True)
        job.refused_file.unlink(missing_ok=True)
        job.before = _signature(job.dir)
        env = job_env(os.environ, slot)
        env[REFUSED_FILE_ENV] = str(job.refused_file)
        with open(job.log, "w", encoding="utf-8") as out:
            out.write(
                f"CUDA_VISIBLE_DEVICES={env['CUDA_VISIBLE_DEVICES']} (slot {slot.index}, "
                f"job #{job.idx}, started {time.strftime('%Y-%m-%dT%H:%M:%S%z')})\n"
                f"command: {shlex.join(job.cmd)}\n"
            )
            out.flush()
            return subprocess.Popen(
                job.cmd,
                env=env,
                cwd=str(self.config.hydra.runtime.cwd),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    # ------------------------------------------------------------------ launching
    def launch(
        self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int
    ) -> Sequence[JobReturn]:
        """Run every job on a GPU slot; one summary line; a JobReturn per job, in order."""
        setup_globals()
        assert self.config is not None and self.hydra_context is not None
        configure_log(self.config.hydra.hydra_logging, self.config.hydra.verbose)
        slots = self._slots()
        sweep_dir = Path(str(self.config.hydra.sweep.dir))
        sweep_dir.mkdir(parents=True, exist_ok=True)
        try:
            jobs = [self._job(initial_job_idx + i, o) for i, o in enumerate(job_overrides)]
        finally:
            HydraConfig.instance().set_config(self.config)
        gpus = sorted({s.gpu for s in slots}, key=[s.gpu for s in slots].index)
        log.info(
            f"Launching {len(jobs)} jobs on GPUs {','.join(gpus)} "
            f"({self.jobs_per_gpu} per GPU, {len(slots)} slots); sweep dir {sweep_dir}"
        )

        clock = SweepClock(len(jobs))

        def on_start(job: _Job, slot: Slot) -> None:
            lst = " ".join(filter_overrides(job.overrides))
            log.info(clock.line(job.idx - initial_job_idx, f"{lst} -> GPU {slot.gpu} "
                                f"(slot {slot.index})"))  # fmt: skip

        def on_finish(result: JobResult[_Job]) -> None:
            clock.done()
            state = "ok" if result.ok else f"FAILED (exit {result.returncode})"
            if result.job.refused_file.is_file():
                state = "refused (its folder holds another run; left as it was)"
            elif result.error:
                state = f"FAILED ({result.error})"
            log.info(f"\t#{result.job.idx} {state} after {result.seconds:.0f}s: {result.job.dir} "
                     f"({clock.finished}/{clock.total} done, {clock.eta()})")  # fmt: skip

        results = run_on_slots(
            jobs,
            slots,
            self._start,
            on_start=on_start,
            on_finish=on_finish,
            poll_interval=self.poll_interval_s,
        )
        summary = summary_line(results, describe=lambda j: str(j.dir))
        log.info(f"local_gpus: {summary}")
        refused = [r.job for r in results if r.job.refused_file.is_file()]
        failed = sum(not r.ok for r in results) - len(refused)
        returns = [self._job_return(r, f"{failed} of {len(results)} jobs failed") for r in results]
        for result in results:
            _settle_log(result.job)
        note_refused(returns)
        return returns

    def _job_return(self, result: JobResult[_Job], overall: str) -> JobReturn:
        """The JobReturn Hydra expects for one job.

        COMPLETED when the process exited 0, and also when it failed but recorded that itself
        (status.json ``failed``: the task's own "record it, the sweep goes on", as under the
        basic launcher; the sweep-end summary reports it). FAILED when the process died without
        a record (killed, crashed, config error): Hydra then ends the sweep with one line.
        """
        job = result.job
        task_cfg = OmegaConf.masked_copy(job.config, [k for k in job.config if k != "hydra"])
        ret = JobReturn(
            overrides=job.overrides,
            cfg=task_cfg,
            hydra_cfg=job.config,
            working_dir=str(job.dir),
            task_name=str(OmegaConf.select(job.config, "hydra.job.name", default="")),
        )
        why = result.error or f"exit code {result.returncode}"
        error = JobProcessFailed(
            f"local_gpus: {overall}; job #{job.idx} failed ({why}), see {job.dir / 'launcher.log'}"
        )
        if job.refused_file.is_file():  # nothing in its folder changed: counted as refused
            reason = job.refused_file.read_text(encoding="utf-8").strip()
            ret.status, ret.return_value = JobStatus.COMPLETED, Refused(str(job.dir), reason)
        elif result.ok:
            ret.status, ret.return_value = JobStatus.COMPLETED, None
        elif recorded_state(job.dir) == "failed":
            ret.status, ret.return_value = JobStatus.COMPLETED, error
        else:
            ret.status, ret.return_value = JobStatus.FAILED, error
        return ret


def recorded_state(job_dir: Path) -> str | None:
    """The ``state`` a job wrote into its status.json (None when there is none)."""
    try:
        data = json.loads((job_dir / "status.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data.get("state") if isinstance(data, dict) else None


def _signature(folder: Path) -> frozenset | None:
    """(path, size, mtime) of every file under ``folder``; None when it does not exist."""
    if not folder.is_dir():
        return None
    found = set()
    for root, _, files in os.walk(folder):
        for name in files:
            with contextlib.suppress(OSError):
                st = os.stat(os.path.join(root, name))
                found.add((os.path.join(root, name), st.st_size, st.st_mtime_ns))
    return frozenset(found)


def _settle_log(job: _Job) -> None:
    """Move the job's log into its folder as launcher.log when the job wrote there; a
    skipped, refused or locked job's folder is left byte for byte and its log stays in
    ``<sweep dir>/.local_gpus/``."""
    if not job.log.is_file() or not job.dir.is_dir() or _signature(job.dir) == job.before:
        return
    try:
        os.replace(job.log, job.dir / "launcher.log")
    except OSError as err:  # a full or read-only disk: the log stays where it is
        log.warning(f"local_gpus: {job.log} not moved into {job.dir}: {err}")
