"""launcher=slurm against a real (single-node) SLURM cluster: a sweep with a failing job, and a
job that hits its time limit, is signalled, requeued and resumed from last.ckpt.

The cluster is started by :mod:`tests.reliability.slurm_cluster` when absent (root, Debian
packages slurm-wlm + munge); without it the tests skip with the reason.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.reliability.slurm_cluster import PARTITION, ensure_cluster

pytest.importorskip("hydra_plugins.hydra_submitit_launcher", reason="pip install -e '.[slurm]'")

SLURM = [
    "launcher=slurm",
    f"hydra.launcher.partition={PARTITION}",
    "hydra.launcher.gpus_per_node=0",
    "hydra.launcher.cpus_per_task=1",
    "hydra.launcher.mem_gb=1",
]
SMALL = [
    "model=mlp",
    "callbacks=none",
    "trainer.max_epochs=1",
    "trainer.limit_train_batches=2",
    "trainer.limit_val_batches=2",
    "trainer.limit_test_batches=2",
    "paths.data_dir=null",
]


@pytest.fixture(scope="module")
def cluster() -> None:
    reason = ensure_cluster()
    if reason:
        pytest.skip(reason)


def _sweep(out: Path, args: list[str], timeout: int, **extra: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, XMSEM_FMNIST_DIR=str(out / "no-fmnist-here"), WANDB_MODE="disabled")
    env.update(extra)
    return subprocess.run(
        [sys.executable, "-m", "xmsem.train", "-m", *SLURM, f"paths.output_dir={out}", *args],
        capture_output=True, text=True, cwd=ROOT, env=env, timeout=timeout,
    )  # fmt: skip


def _status(job: Path) -> dict:
    return json.loads((job / "status.json").read_text())


# about a minute on an idle 2-core machine (SLURM scheduling + 2 jobs): in the fast suite, so
# every CI run proves launcher=slurm against a real single-node cluster
def test_slurm_sweep_runs_jobs_and_reports_the_failed_one(tmp_path: Path, cluster) -> None:
    proc = _sweep(tmp_path, ["data=synthetic,fmnist", *SMALL], timeout=900)
    sweep = tmp_path / "sweeps" / "default"
    jobs = [p for p in sweep.iterdir() if (p / "status.json").is_file()]
    assert len(jobs) == 2, proc.stdout + proc.stderr
    (ok_dir,) = [p for p in jobs if "data=synthetic" in p.name]
    (bad_dir,) = [p for p in jobs if "data=fmnist" in p.name]
    ok, bad = _status(ok_dir), _status(bad_dir)
    assert ok["state"] == "completed" and 0.0 <= ok["results"]["test/mlp/acc"] <= 1.0
    assert bad["state"] == "failed" and "Fashion-MNIST IDX files not found" in bad["error"]
    # reported as with the other launchers: the summary line, the failed job, exit 1
    assert proc.returncode == 1, proc.stderr
    assert "1 completed, 1 failed" in proc.stdout
    assert f"failed: {bad_dir.name}: Fashion-MNIST IDX files not found" in proc.stdout
    assert list((sweep / ".submitit").rglob("*.out"))  # slurm's own logs of the jobs


@pytest.mark.slow
def test_slurm_timeout_requeues_and_resumes(tmp_path: Path, cluster) -> None:
    args = [
        "debug=tiny", "model=mlp", "callbacks=none", "data.n_train=20000",
        "trainer.max_epochs=120", "hydra.launcher.timeout_min=1", "hydra.launcher.signal_delay_s=25",
    ]  # fmt: skip  # 120 epochs: well over SLURM's smallest time limit (1 minute) even when idle
    proc = _sweep(tmp_path, args, timeout=580)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (job,) = [
        p for p in (tmp_path / "sweeps" / "default").iterdir() if (p / "status.json").is_file()
    ]
    status = _status(job)
    assert status["state"] == "completed" and status["results"]["epochs"] == 120
    assert status["attempts"] >= 2 and status["resumed_from"].endswith(".ckpt")
    assert not list(job.rglob("*-v1*"))


@pytest.mark.slow  # two SLURM sweeps of two tiny jobs: ~3 min on a busy 2-core machine
def test_slurm_names_folders_by_swept_keys_and_counts_refused_jobs(tmp_path: Path, cluster) -> None:
    """sbatch exports only the listed variables (not XMSEM_SWEPT_KEYS): the job folders are
    still named by the swept key (carried in the launcher's pickle), and a rerun whose jobs are
    refused (fewer epochs than the runs have) says so and exits 1, leaving every folder as it
    was (at 701789c refused jobs were counted as completed)."""
    from tests.reliability._folder import folder_digest

    # what sbatch passes to the jobs (srun then exports the same list: submitit's own variable,
    # set in its sbatch script, must be on it)
    only = "PATH,HOME,PYTHONPATH,WANDB_MODE,XMSEM_FMNIST_DIR,SUBMITIT_EXECUTOR"
    args = [a for a in SMALL if not a.startswith("trainer.max_epochs")] + ["seed=0,1"]
    first = _sweep(tmp_path, [*args, "trainer.max_epochs=2"], timeout=900, SBATCH_EXPORT=only)
    assert first.returncode == 0, first.stdout + first.stderr
    sweep = tmp_path / "sweeps" / "default"
    jobs = sorted(p.name for p in sweep.iterdir() if (p / "status.json").is_file())
    assert [j.split("~")[0] for j in jobs] == ["seed=0", "seed=1"], jobs
    before = {j: folder_digest(sweep / j) for j in jobs}

    again = _sweep(tmp_path, [*args, "trainer.max_epochs=1"], timeout=900, SBATCH_EXPORT=only)
    assert again.returncode == 1, again.stdout + again.stderr
    assert "2 refused" in again.stdout and "asks for fewer" in again.stdout, again.stdout
    assert {j: folder_digest(sweep / j) for j in jobs} == before
