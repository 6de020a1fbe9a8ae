"""Issue 17, break 3: SIGTERM (what SLURM and ``timeout`` send) and SIGINT end a run honestly.
At 701789c Lightning swallowed SIGTERM: exit 0, no message, status.json ``running``; a sweep
stopped without a summary, exit 0; a long snapshot took ~200 s to notice."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from tests.conftest import ROOT, TINY
from xmsem.runs import signals


def _start(args: list[str]) -> subprocess.Popen:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "WANDB_MODE": "disabled"}
    flags = [a for a in args if a.startswith("-")]  # Hydra's flags come before the overrides
    cmd = [sys.executable, "-m", "xmsem.train", *flags, *TINY, "callbacks=none",
           "trainer.max_epochs=60", *(a for a in args if not a.startswith("-"))]  # fmt: skip
    return subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)  # fmt: skip


def _signal_after_first_checkpoint(proc: subprocess.Popen, folder: Path, signum: int) -> float:
    """Send ``signum`` once an epoch checkpoint exists; seconds until the process ended."""
    deadline = time.monotonic() + 240
    while not list(folder.rglob("last.ckpt")) and proc.poll() is None:
        assert time.monotonic() < deadline, "no checkpoint appeared"
        time.sleep(0.1)
    start = time.monotonic()
    proc.send_signal(signum)
    proc.wait(timeout=60)
    return time.monotonic() - start


@pytest.mark.slow  # a CLI run: ~20 s on a loaded 2-core machine
def test_sigterm_records_interrupted_and_exits_143(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    proc = _start([f"hydra.run.dir={run_dir}"])
    seconds = _signal_after_first_checkpoint(proc, run_dir, signal.SIGTERM)
    out = proc.stdout.read()
    assert proc.returncode == 143, out[-2000:]
    assert seconds < 20
    status = json.loads((run_dir / "status.json").read_text())
    assert status["state"] == "interrupted"
    assert "SIGTERM" in status["error"] and "last.ckpt" in status["error"]
    assert "interrupted by SIGTERM" in out
    assert (run_dir / "checkpoints" / "last.ckpt").is_file()


@pytest.mark.slow  # a CLI sweep: ~20 s on a loaded 2-core machine
def test_sigint_in_a_sweep_prints_the_summary_and_exits_130(tmp_path: Path) -> None:
    proc = _start(["-m", "seed=0,1", "name=sw", f"paths.output_dir={tmp_path}"])
    _signal_after_first_checkpoint(proc, tmp_path, signal.SIGINT)
    out = proc.stdout.read()
    assert proc.returncode == 130, out[-2000:]
    assert "xmsem sweep" in out and "1 interrupted" in out
    states = [json.loads(p.read_text())["state"] for p in tmp_path.rglob("status.json")]
    assert states == ["interrupted"]  # the second job never started


@pytest.fixture
def flag_set():
    signals._received = signal.SIGTERM
    yield
    signals.reset()


def test_exit_codes_and_lightnings_sigterm_exit() -> None:
    from lightning.pytorch.utilities.exceptions import SIGTERMException

    assert signals.Interrupted(signal.SIGTERM).exit_code == 143
    assert signals.Interrupted(signal.SIGINT).exit_code == 130
    # Lightning's own SIGTERM exit is a SystemExit with code None (exit 0): taken as a signal
    assert signals.interrupt_from(SIGTERMException()).exit_code == 143
    assert signals.interrupt_from(KeyboardInterrupt()).exit_code == 130
    assert signals.interrupt_from(ValueError("x")) is None


def test_a_snapshot_in_progress_stops_between_pieces(flag_set) -> None:
    """The K^2 seed-pair loop and the copy preparation check the flag (seconds, not minutes)."""
    from xmsem.snapshots.copies import prepare_copies, seed_pair_rows
    from xmsem.snapshots.measure import MeasureSettings, RepCache

    reps = {f"mlp.{k}": {"h1": torch.randn(40, 6, dtype=torch.float64)} for k in range(3)}
    groups = {"mlp": list(reps)}
    s = MeasureSettings(metrics=["linear_cka"])
    cache = RepCache(torch.zeros(40, dtype=torch.long), 20, s)
    with pytest.raises(signals.Interrupted):
        prepare_copies(reps, groups, cache)
    signals.reset()
    stacks = prepare_copies(reps, groups, cache)
    assert len(seed_pair_rows(stacks, groups, s)) == 3  # 3 pairs when no signal came
    signals._received = signal.SIGTERM
    with pytest.raises(signals.Interrupted):
        seed_pair_rows(stacks, groups, s)
