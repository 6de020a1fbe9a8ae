"""A real multirun of three tiny jobs in a subprocess, one made to fail: the others complete, the
failed one is recorded and listed, the analysis covers the good ones, and rerunning the sweep
trains nothing new for the completed jobs."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT

# data.val_size=5000 exceeds the 600 training examples: that job fails when it loads its data
SWEEP = "data.val_size=100,5000,120"


def sweep(out: Path) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "xmsem.train", "-m", "debug=tiny", SWEEP, "name=three",
           f"paths.output_dir={out}"]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1", "WANDB_MODE": "disabled"}
    return subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=400)


def jobs(sweep_dir: Path) -> dict[str, dict]:
    return {p.parent.name: json.loads(p.read_text()) for p in sweep_dir.glob("*/status.json")}


def test_failing_job_does_not_stop_the_sweep_and_rerun_skips(tmp_path: Path) -> None:
    proc = sweep(tmp_path)
    assert proc.returncode == 1, proc.stderr[-3000:]  # a job failed: the sweep says so
    sweep_dir = tmp_path / "sweeps" / "three"
    states = jobs(sweep_dir)
    assert len(states) == 3
    failed = [name for name, s in states.items() if s["state"] == "failed"]
    completed = [name for name, s in states.items() if s["state"] == "completed"]
    assert len(failed) == 1 and len(completed) == 2
    assert "data.val_size=5000" in failed[0]
    assert "data.val_size=5000 must be in [1, 600)" in states[failed[0]]["error"]
    assert "1 failed" in proc.stdout and "2 completed" in proc.stdout
    printed = proc.stdout + proc.stderr
    assert "job 1/3: " in printed and "job 3/3: " in printed  # job k/N with an ETA
    assert re.search(r"job 3/3: .* \| ETA \d+s", printed)
    # deterministic folders: the job's overrides name it
    assert all("data.val_size=" in name for name in states)

    mtimes = {
        n: (sweep_dir / n / "checkpoints" / "last.ckpt").stat().st_mtime_ns for n in completed
    }
    again = sweep(tmp_path)
    assert again.returncode == 1
    after = jobs(sweep_dir)
    for name in completed:
        assert after[name]["attempts"] == 1  # not trained again
        assert (sweep_dir / name / "checkpoints" / "last.ckpt").stat().st_mtime_ns == mtimes[name]
    assert after[failed[0]]["state"] == "failed"  # retried, and fails again for the same reason
