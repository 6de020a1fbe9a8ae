"""A job killed mid-training resumes from its checkpoint and ends exactly where an uninterrupted
run of the same seed ends (CPU), with complete snapshot files."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.conftest import ROOT, TINY
from xmsem.snapshots import SnapshotStore
from xmsem.snapshots.table import read_rows

EPOCHS = 6
ARGS = [
    *TINY,
    "data.n_train=3000",
    f"trainer.max_epochs={EPOCHS}",
    "callbacks.representations.epochs=[0,2,4,6]",
    "seed=11",
    "trainer.accelerator=cpu",  # resumed == uninterrupted bit for bit: a CPU guarantee
]


def command(run_dir: Path) -> list[str]:
    return [sys.executable, "-m", "xmsem.train", *ARGS, f"hydra.run.dir={run_dir}"]


def env() -> dict[str, str]:
    return {**os.environ, "OMP_NUM_THREADS": "1", "WANDB_MODE": "disabled"}


def train(run_dir: Path) -> None:
    proc = subprocess.run(command(run_dir), cwd=ROOT, env=env(), capture_output=True, text=True,
                          timeout=300)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]


def test_killed_job_resumes_to_the_same_numbers(tmp_path: Path) -> None:
    killed, clean = tmp_path / "killed", tmp_path / "clean"
    proc = subprocess.Popen(command(killed), cwd=ROOT, env=env(), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)  # fmt: skip
    deadline = time.monotonic() + 240
    marker = killed / "reps" / "epoch_002" / "manifest.json"
    while not marker.is_file() and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    time.sleep(0.3)  # into epoch 3
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    status = json.loads((killed / "status.json").read_text())
    assert status["state"] == "running", "the job finished before it could be killed"
    assert SnapshotStore(killed).epochs()[-1] < EPOCHS

    train(killed)  # the same command again: resumes
    train(clean)  # an uninterrupted run of the same seed

    resumed = json.loads((killed / "status.json").read_text())
    reference = json.loads((clean / "status.json").read_text())
    assert resumed["state"] == "completed" and resumed["attempts"] == 2
    assert resumed["resumed_from"].endswith("last.ckpt")
    assert resumed["results"] == reference["results"]  # bit-identical on CPU

    store = SnapshotStore(killed)
    assert store.epochs() == [0, 2, 4, 6]
    for epoch in (0, 2, 4, 6):
        assert store.manifest(epoch)["members"] == {"pgnn": ["h1", "h2"], "mlp": ["h1", "h2"]}
    key = ("epoch", "member_a", "member_b", "layer_a", "layer_b", "metric")
    rows_resumed = {tuple(r[k] for k in key): float(r["value"]) for r in read_rows(killed)}
    rows_clean = {tuple(r[k] for k in key): float(r["value"]) for r in read_rows(clean)}
    assert len(rows_resumed) == len(read_rows(killed))  # no duplicated snapshot rows
    assert rows_resumed.keys() == rows_clean.keys()
    for k, v in rows_clean.items():
        assert abs(rows_resumed[k] - v) < 1e-9, k
