"""Break 7: two copies of one sweep started together train each job once (flock per run, no
``-v1`` strays). Break 2: a run dir on a full filesystem ends with one line naming the path,
status.json stays readable, and a rerun after space returns completes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT, TINY

ARGS = [*TINY, "callbacks=none"]


def _train(args: list[str]) -> subprocess.Popen:
    env = dict(os.environ, WANDB_MODE="disabled")
    return subprocess.Popen(
        [sys.executable, "-m", "xmsem.train", *args], cwd=ROOT, env=env,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


@pytest.mark.slow
def test_two_identical_sweeps_train_each_job_once(tmp_path: Path) -> None:
    args = ["-m", "seed=0,1,2", *ARGS, f"paths.output_dir={tmp_path}"]
    procs = [_train(args), _train(args)]
    outs = [p.communicate(timeout=580) for p in procs]
    assert all(p.returncode == 0 for p in procs), outs
    sweep = tmp_path / "sweeps" / "default"
    jobs = sorted(p for p in sweep.iterdir() if (p / "status.json").is_file())
    assert len(jobs) == 3
    for job in jobs:
        status = json.loads((job / "status.json").read_text())
        assert status["attempts"] == 1, job.name  # trained once, by one of the two
    assert not list(sweep.rglob("*-v1*"))
    console = "".join(out + err for out, err in outs)  # the sweep's log lines go to the console
    skipped = console.count("being run by another process")
    completed = console.count("already completed")
    assert skipped + completed >= 3  # the second copy met every job busy or done


@pytest.fixture
def small_tmpfs(tmp_path: Path):
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    proc = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mnt)],
        capture_output=True, text=True,
    )  # fmt: skip
    if proc.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {proc.stderr.strip() or proc.returncode}")
    yield mnt
    subprocess.run(["umount", "-l", str(mnt)], capture_output=True)


@pytest.mark.slow
def test_full_disk_is_one_line_and_rerun_completes(small_tmpfs: Path) -> None:
    run_dir = small_tmpfs / "run"
    args = [*ARGS, f"hydra.run.dir={run_dir}", "paths.output_dir=" + str(small_tmpfs)]
    proc = _train(args)
    _, err = proc.communicate(timeout=900)
    lines = [x for x in err.strip().splitlines() if x.startswith("xmsem:")]
    assert proc.returncode == 2, err
    assert len(lines) == 1 and "no space left on device writing " + str(run_dir) in lines[0], err
    assert "Traceback" not in err
    json.loads((run_dir / "status.json").read_text())  # readable (old content or "failed")
    assert not list(run_dir.rglob("*.ckpt"))  # nothing half-written under a real name
    subprocess.run(["mount", "-o", "remount,size=64m", str(small_tmpfs)], check=True)
    proc = _train(args)
    _, err = proc.communicate(timeout=900)
    assert proc.returncode == 0, err
    status = json.loads((run_dir / "status.json").read_text())
    assert status["state"] == "completed" and status["attempts"] == 2
    assert not list(run_dir.rglob(".*.tmp"))
