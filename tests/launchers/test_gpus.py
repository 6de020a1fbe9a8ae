"""The GPU-slot logic of ``launcher=local_gpus`` (xmsem.launch.gpus): parsing, slots, scheduling."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import pytest

from xmsem.launch.gpus import (
    GpuConfigError,
    Slot,
    build_slots,
    detect_gpus,
    job_env,
    parse_visible_devices,
    resolve_gpus,
    run_on_slots,
    summary_line,
)


# --------------------------------------------------------------------------- parsing
@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        ("", []),
        ("0,2,5", ["0", "2", "5"]),
        (" 1 , 3 ", ["1", "3"]),
        ("-1", []),
        ("0,1,-1,2", ["0", "1"]),  # CUDA stops at the first invalid index
        ("GPU-8f2a,MIG-11aa", ["GPU-8f2a", "MIG-11aa"]),
    ],
)
def test_parse_visible_devices(value, expected):
    assert parse_visible_devices(value) == expected


def test_detect_prefers_cuda_visible_devices_then_nvidia_smi_then_torch():
    def never():
        raise AssertionError("must not be asked")

    assert detect_gpus({"CUDA_VISIBLE_DEVICES": "3,1"}, never, never) == ["3", "1"]
    assert detect_gpus({"CUDA_VISIBLE_DEVICES": ""}, never, never) == []  # set but empty: none
    assert detect_gpus({}, lambda: ["0", "1"], never) == ["0", "1"]
    assert detect_gpus({}, lambda: None, lambda: 3) == ["0", "1", "2"]
    assert detect_gpus({}, lambda: [], lambda: 0) == []


def test_resolve_gpus_values_and_errors():
    assert resolve_gpus([0, 2, 5]) == ["0", "2", "5"]
    assert resolve_gpus("0,2,5") == ["0", "2", "5"]
    assert resolve_gpus(["GPU-aa", 1]) == ["GPU-aa", "1"]
    assert resolve_gpus(None, detect=lambda env: ["4", "7"]) == ["4", "7"]
    with pytest.raises(GpuConfigError, match=r"^hydra\.launcher\.gpus: no GPU found"):
        resolve_gpus(None, detect=lambda env: [])
    for bad in (2, True, [], [0, 0], [-1], [0.5], ["1,2"]):
        with pytest.raises(GpuConfigError, match=r"^hydra\.launcher\.gpus") as err:
            resolve_gpus(bad)
        assert "\n" not in str(err.value)


def test_build_slots_interleaves_gpus():
    slots = build_slots(["0", "2", "5"], jobs_per_gpu=2)
    assert len(slots) == 6
    assert [s.gpu for s in slots] == ["0", "2", "5", "0", "2", "5"]
    assert [s.index for s in slots] == list(range(6))
    assert Counter(s.gpu for s in slots) == {"0": 2, "2": 2, "5": 2}
    for bad in (0, -1, 1.5, True, "2"):
        with pytest.raises(GpuConfigError, match=r"^hydra\.launcher\.jobs_per_gpu"):
            build_slots(["0"], bad)


def test_job_env_holds_exactly_one_gpu_and_keeps_the_rest():
    base = {"CUDA_VISIBLE_DEVICES": "0,2,5", "PATH": "/bin"}
    env = job_env(base, Slot(4, "2"))
    assert env == {"CUDA_VISIBLE_DEVICES": "2", "PATH": "/bin"}
    assert base["CUDA_VISIBLE_DEVICES"] == "0,2,5"  # the parent's env is untouched


# --------------------------------------------------------------------------- scheduling
@dataclass
class FakeClock:
    """Time that moves only when the scheduler sleeps."""

    now: float = 0.0

    def sleep(self, seconds: float) -> None:
        self.now += seconds

    def __call__(self) -> float:
        return self.now


@dataclass
class FakeProcess:
    """A process that exits with ``code`` after ``duration`` fake seconds."""

    clock: FakeClock
    duration: float
    code: int
    started: float = 0.0
    terminated: bool = False

    def __post_init__(self) -> None:
        self.started = self.clock.now

    def poll(self) -> int | None:
        return self.code if self.clock.now - self.started >= self.duration else None

    def wait(self) -> int:
        self.clock.now = max(self.clock.now, self.started + self.duration)
        return self.code

    def terminate(self) -> None:
        self.terminated = True
        self.duration = 0.0


@dataclass
class Recorder:
    """A ``start(job, slot)`` that launches fake processes and checks the GPU occupancy."""

    clock: FakeClock
    durations: dict[int, float]
    codes: dict[int, int] = field(default_factory=dict)
    raises: set[int] = field(default_factory=set)
    jobs_per_gpu: int = 1
    running: dict[int, tuple[Slot, FakeProcess]] = field(default_factory=dict)
    starts: Counter = field(default_factory=Counter)
    envs: dict[int, dict[str, str]] = field(default_factory=dict)
    max_per_gpu: Counter = field(default_factory=Counter)
    max_per_slot: Counter = field(default_factory=Counter)

    def start(self, job: int, slot: Slot) -> FakeProcess:
        # forget the jobs that have exited by now
        self.running = {j: v for j, v in self.running.items() if v[1].poll() is None}
        self.starts[job] += 1
        self.envs[job] = job_env({"CUDA_VISIBLE_DEVICES": "0,2,5", "HOME": "/h"}, slot)
        if job in self.raises:
            raise OSError("cannot start")
        proc = FakeProcess(self.clock, self.durations[job], self.codes.get(job, 0))
        self.running[job] = (slot, proc)
        per_gpu = Counter(s.gpu for s, _ in self.running.values())
        per_slot = Counter(s.index for s, _ in self.running.values())
        for gpu, n in per_gpu.items():
            self.max_per_gpu[gpu] = max(self.max_per_gpu[gpu], n)
        for index, n in per_slot.items():
            self.max_per_slot[index] = max(self.max_per_slot[index], n)
        return proc


def test_ten_jobs_on_six_slots_never_overbook_a_gpu():
    clock = FakeClock()
    durations = {j: [3.0, 1.0, 7.0, 2.0, 5.0, 1.0, 4.0, 6.0, 2.0, 3.0][j] for j in range(10)}
    codes = {3: 1, 7: 137}  # two jobs fail
    rec = Recorder(clock, durations, codes, jobs_per_gpu=2)
    slots = build_slots(parse_visible_devices("0,2,5") or [], jobs_per_gpu=2)
    finished: list[int] = []
    results = run_on_slots(
        list(range(10)),
        slots,
        rec.start,
        on_finish=lambda r: finished.append(r.job),
        poll_interval=0.5,
        sleep=clock.sleep,
        clock=clock,
    )
    # every job ran exactly once, results in job order
    assert rec.starts == Counter(range(10))
    assert [r.job for r in results] == list(range(10))
    assert sorted(finished) == list(range(10))
    # never more than jobs_per_gpu jobs on one GPU, never two jobs on one slot
    assert max(rec.max_per_gpu.values()) == 2
    assert set(rec.max_per_gpu) == {"0", "2", "5"}
    assert max(rec.max_per_slot.values()) == 1
    # the failing jobs are recorded with their exit codes and the others went on
    assert {r.job: r.returncode for r in results if not r.ok} == {3: 1, 7: 137}
    assert all(r.returncode == 0 for r in results if r.job not in codes)
    # every job's env held exactly one GPU id, one of the visible ones
    for env in rec.envs.values():
        assert env["CUDA_VISIBLE_DEVICES"] in {"0", "2", "5"}
        assert "," not in env["CUDA_VISIBLE_DEVICES"]
        assert env["HOME"] == "/h"
    # dynamic scheduling: the first 6 start at once, the rest as slots free up (not in rounds)
    assert clock.now < sum(durations.values()) / 2
    line = summary_line(results, describe=lambda j: f"job{j}")
    assert line == "8 ok, 2 failed: job3 (exit 1); job7 (exit 137)"


def test_one_slot_runs_jobs_one_after_another():
    clock = FakeClock()
    rec = Recorder(clock, {j: 1.0 for j in range(4)})
    results = run_on_slots(
        list(range(4)), build_slots(["1"], 1), rec.start, sleep=clock.sleep, clock=clock
    )
    assert all(r.ok and r.slot.gpu == "1" for r in results)
    assert rec.max_per_slot[0] == 1
    assert clock.now >= 4.0


def test_a_job_that_cannot_start_is_recorded_and_frees_its_slot():
    clock = FakeClock()
    rec = Recorder(clock, {j: 1.0 for j in range(3)}, raises={1})
    results = run_on_slots(
        [0, 1, 2], build_slots(["0"], 1), rec.start, sleep=clock.sleep, clock=clock
    )
    assert [r.ok for r in results] == [True, False, True]
    assert results[1].returncode is None and "OSError: cannot start" in (results[1].error or "")
    assert "1 failed" in summary_line(results)


def test_interrupt_terminates_running_jobs():
    clock = FakeClock()
    rec = Recorder(clock, {j: 100.0 for j in range(4)})

    def interrupting_sleep(seconds: float) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_on_slots([0, 1, 2, 3], build_slots(["0", "1"], 1), rec.start, sleep=interrupting_sleep)
    assert sorted(rec.running) == [0, 1]
    assert all(proc.terminated for _, proc in rec.running.values())
    assert rec.starts == Counter([0, 1])  # the pending jobs never started
