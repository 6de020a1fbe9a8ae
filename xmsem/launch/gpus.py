"""GPU slots for the ``local_gpus`` launcher: which GPUs, how many jobs each, who runs where.

Pure python (no CUDA, no torch at import): parse ``CUDA_VISIBLE_DEVICES``, find the GPUs of this
machine, build a pool of slots (``gpus x jobs_per_gpu``) and hand the slots to jobs dynamically:
a job takes a free slot, runs in its own process with ``CUDA_VISIBLE_DEVICES=<that slot's GPU>``,
and gives the slot back when its process exits. A slot never holds two jobs, so a GPU never
runs more than ``jobs_per_gpu`` jobs at once, and a failing job only frees its slot.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

J = TypeVar("J")
ENV_KEY = "CUDA_VISIBLE_DEVICES"


class GpuConfigError(ValueError):
    """A bad ``hydra.launcher`` GPU setting, or no GPU at all (one line, naming the key)."""


class Handle(Protocol):
    """What ``start(job, slot)`` returns: a running job (``subprocess.Popen`` fits)."""

    def poll(self) -> int | None: ...

    def wait(self) -> int: ...


@dataclass(frozen=True)
class Slot:
    """One place to run a job: ``gpu`` is the id written into the job's CUDA_VISIBLE_DEVICES."""

    index: int
    gpu: str


@dataclass
class JobResult(Generic[J]):
    """How one job ended: its process exit code (None when it could not be started)."""

    job: J
    slot: Slot
    returncode: int | None
    seconds: float
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.returncode == 0


# --------------------------------------------------------------------------- which GPUs
def parse_visible_devices(value: str | None) -> list[str] | None:
    """The GPU ids of a ``CUDA_VISIBLE_DEVICES`` string; None when the variable is unset.

    ``"0,2,5"`` -> ``["0", "2", "5"]``; UUIDs (``GPU-...``, ``MIG-...``) are kept as they are;
    ``""`` -> ``[]``. As CUDA does, the list stops at the first negative index (``"-1"`` = none).
    """
    if value is None:
        return None
    ids: list[str] = []
    for item in (part.strip() for part in value.split(",")):
        if not item:
            continue
        if re.fullmatch(r"-\d+", item):
            break
        ids.append(item)
    return ids


def _nvidia_smi_gpus() -> list[str] | None:
    """Indices of the GPUs ``nvidia-smi -L`` lists, or None when it is missing or fails."""
    exe = shutil.which("nvidia-smi")
    if exe is None:
        return None
    try:
        out = subprocess.run([exe, "-L"], capture_output=True, text=True, timeout=30, check=True)
    except (OSError, subprocess.SubprocessError):
        return None
    return re.findall(r"^GPU (\d+):", out.stdout, flags=re.MULTILINE)


def _torch_gpu_count() -> int:
    """``torch.cuda.device_count()``, 0 when torch or CUDA is unavailable."""
    try:
        import torch

        return int(torch.cuda.device_count())
    except Exception:  # noqa: BLE001 - any failure means "no GPU found this way"
        return 0


def detect_gpus(
    env: Mapping[str, str] | None = None,
    nvidia_smi: Callable[[], list[str] | None] = _nvidia_smi_gpus,
    torch_count: Callable[[], int] = _torch_gpu_count,
) -> list[str]:
    """The GPUs this process may use: CUDA_VISIBLE_DEVICES, else ``nvidia-smi -L``, else torch."""
    env = os.environ if env is None else env
    visible = parse_visible_devices(env.get(ENV_KEY))
    if visible is not None:
        return visible
    listed = nvidia_smi()
    if listed:
        return listed
    return [str(i) for i in range(torch_count())]


def resolve_gpus(
    gpus: Any,
    env: Mapping[str, str] | None = None,
    detect: Callable[[Mapping[str, str] | None], list[str]] | None = None,
    key: str = "hydra.launcher.gpus",
) -> list[str]:
    """The GPU ids to use from the ``gpus`` setting: null (all visible), a list, or "0,2,5".

    Raises GpuConfigError (one line naming ``key``) for a bad value or when no GPU is found.
    """
    if gpus is None:
        found = (detect or detect_gpus)(env)
        if not found:
            raise GpuConfigError(
                f"{key}: no GPU found (CUDA_VISIBLE_DEVICES, nvidia-smi -L and "
                "torch.cuda.device_count() found none); use launcher=basic on a CPU machine "
                "or give the ids, e.g. hydra.launcher.gpus=[0,1]"
            )
        return found
    if isinstance(gpus, (bool, int, float)):
        raise GpuConfigError(
            f"{key} must be a list of GPU ids like [0,1] (or null for all visible), got {gpus!r}"
        )
    if isinstance(gpus, str):
        items: list[Any] = gpus.split(",")
    elif isinstance(gpus, Sequence):
        items = list(gpus)
    else:
        try:  # an omegaconf ListConfig
            items = list(gpus)
        except TypeError:
            raise GpuConfigError(f"{key} must be a list of GPU ids, got {gpus!r}") from None
    ids: list[str] = []
    for item in items:
        if isinstance(item, bool) or not isinstance(item, (int, str)):
            raise GpuConfigError(f"{key}: {item!r} is not a GPU id (an int or a string)")
        text = str(item).strip()
        if not text or "," in text or (isinstance(item, int) and item < 0):
            raise GpuConfigError(f"{key}: {item!r} is not a GPU id")
        ids.append(text)
    if not ids:
        raise GpuConfigError(f"{key} is empty: give GPU ids like [0,1], or null for all visible")
    if len(set(ids)) != len(ids):
        raise GpuConfigError(f"{key} lists a GPU twice: {ids}; use jobs_per_gpu to share GPUs")
    return ids


def build_slots(
    gpus: Sequence[str], jobs_per_gpu: int, key: str = "hydra.launcher.jobs_per_gpu"
) -> list[Slot]:
    """``len(gpus) * jobs_per_gpu`` slots, interleaved (gpu0, gpu1, ..., gpu0, gpu1, ...)."""
    if isinstance(jobs_per_gpu, bool) or not isinstance(jobs_per_gpu, int) or jobs_per_gpu < 1:
        raise GpuConfigError(f"{key} must be an integer >= 1, got {jobs_per_gpu!r}")
    if not gpus:
        raise GpuConfigError("no GPU to build slots on")
    pairs = [(gpu, k) for k in range(jobs_per_gpu) for gpu in gpus]
    return [Slot(index=i, gpu=str(gpu)) for i, (gpu, _) in enumerate(pairs)]


def job_env(base: Mapping[str, str], slot: Slot) -> dict[str, str]:
    """A copy of ``base`` with CUDA_VISIBLE_DEVICES set to exactly the slot's GPU."""
    env = dict(base)
    env[ENV_KEY] = slot.gpu
    return env


# --------------------------------------------------------------------------- scheduling
def run_on_slots(
    jobs: Sequence[J],
    slots: Sequence[Slot],
    start: Callable[[J, Slot], Handle],
    *,
    on_start: Callable[[J, Slot], None] | None = None,
    on_finish: Callable[[JobResult[J]], None] | None = None,
    poll_interval: float = 0.2,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> list[JobResult[J]]:
    """Run every job once, each on a free slot; return the results in the order of ``jobs``.

    A job starts as soon as a slot is free (the free slot on the GPU with the fewest running jobs)
    and frees it when ``handle.poll()`` reports an exit code. A job whose ``start`` raises is
    recorded with ``returncode=None`` and the others go on. On KeyboardInterrupt (or any error
    while waiting) the running jobs are terminated (``handle.terminate()`` when it exists) and
    waited for, then the exception is re-raised.
    """
    if not slots:
        raise GpuConfigError("no slots to run jobs on")
    pending = list(range(len(jobs)))
    free = list(slots)
    running: dict[int, tuple[Slot, Handle, float]] = {}
    results: dict[int, JobResult[J]] = {}
    load: dict[str, int] = {slot.gpu: 0 for slot in slots}

    def finish(i: int, slot: Slot, code: int | None, t0: float, error: str | None) -> None:
        load[slot.gpu] -= 1
        free.append(slot)
        result = JobResult(jobs[i], slot, code, round(clock() - t0, 3), error)
        results[i] = result
        if on_finish is not None:
            on_finish(result)

    try:
        while pending or running:
            while pending and free:
                slot = min(free, key=lambda s: (load[s.gpu], s.index))
                free.remove(slot)
                load[slot.gpu] += 1
                i = pending.pop(0)
                t0 = clock()
                if on_start is not None:
                    on_start(jobs[i], slot)
                try:
                    handle = start(jobs[i], slot)
                except Exception as err:  # noqa: BLE001 - recorded, the sweep goes on
                    finish(i, slot, None, t0, f"{type(err).__name__}: {err}")
                    continue
                running[i] = (slot, handle, t0)
            done = [(i, code) for i, (_, h, _) in running.items() if (code := h.poll()) is not None]
            for i, code in done:
                slot, _, t0 = running.pop(i)
                finish(i, slot, code, t0, None)
            if running and not done:
                sleep(poll_interval)
    except BaseException:
        _stop_all([h for _, h, _ in running.values()])
        raise
    return [results[i] for i in range(len(jobs))]


def _stop_all(handles: Sequence[Handle], grace: float = 10.0) -> None:
    """Terminate the running jobs, wait ``grace`` seconds for them, then kill what is left."""
    for handle in handles:
        terminate = getattr(handle, "terminate", None)
        if terminate is not None:
            with contextlib.suppress(OSError):
                terminate()
    for handle in handles:
        try:
            if isinstance(handle, subprocess.Popen):
                try:
                    handle.wait(timeout=grace)
                except subprocess.TimeoutExpired:
                    handle.kill()
                    handle.wait()
            else:
                handle.wait()
        except (OSError, KeyboardInterrupt):
            pass


def summary_line(results: Sequence[JobResult[Any]], describe: Callable[[Any], str] = str) -> str:
    """One line: ``N ok, M failed`` and, for the failed, ``describe(job)`` with the exit code."""
    failed = [r for r in results if not r.ok]
    line = f"{len(results) - len(failed)} ok, {len(failed)} failed"
    if failed:
        items = [
            f"{describe(r.job)} (exit {r.returncode})"
            if r.error is None
            else f"{describe(r.job)} ({r.error})"
            for r in failed
        ]
        line += ": " + "; ".join(items)
    return line
