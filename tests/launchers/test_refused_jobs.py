"""Issue 17, item 1, under every launcher: a sweep counts refused jobs as refused, prints them and
exits 1, and a refused or skipped job leaves every byte of its folder as it was.

At 701789c a sweep whose jobs were all refused printed "3 completed" and exited 0; after the fix
for the basic launcher, ``local_gpus`` still counted a refused job as its folder's state (its
process exited 2: Hydra ended the sweep with one line and no summary) and rewrote each job's
launcher.log on every rerun, and submitit counted refused jobs as completed (the summary's
``on_job_end`` ran in the job's process). The tiny app (``_app.py``) refuses the seeds of
``XMSEM_TEST_REFUSE_SEEDS`` through the same ``job_refused`` as ``xmsem.train``.
"""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
from pathlib import Path

import pytest

from tests.reliability._folder import folder_digest
from xmsem.runs.sweep_summary import SWEPT_KEYS_ENV

ROOT = Path(__file__).resolve().parents[2]
APP = "tests.launchers._app"

LAUNCHERS = {
    "basic": [],
    "local_gpus": [
        "launcher=local_gpus",
        "hydra.launcher.gpus=[0,1]",
        f"hydra.launcher.module={APP}",
        "hydra.launcher.poll_interval_s=0.05",
    ],
    "submitit_local": ["hydra/launcher=xmsem_submitit_local", "hydra.launcher.timeout_min=5"],
}


def _sweep(out: Path, launcher: str, **env: str) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if k not in ("CUDA_VISIBLE_DEVICES",
                                                                 SWEPT_KEYS_ENV)}  # fmt: skip
    full_env.update({"WANDB_MODE": "disabled", "HYDRA_FULL_ERROR": "0", **env})
    args = [*LAUNCHERS[launcher], "seed=0,1,2", "name=rf", f"paths.output_dir={out}"]
    return subprocess.run([sys.executable, "-m", APP, "-m", *args], cwd=ROOT, env=full_env,
                          capture_output=True, text=True, timeout=300)  # fmt: skip


@pytest.mark.parametrize(
    "launcher",
    [  # two sweeps of 3 jobs: ~40 s (basic) to ~3 min (a process per job) on a busy 2-core box
        pytest.param("basic", marks=pytest.mark.slow),
        pytest.param("local_gpus", marks=pytest.mark.slow),
        pytest.param("submitit_local", marks=pytest.mark.slow),
    ],
)
def test_refused_job_is_counted_printed_and_exits_1(tmp_path: Path, launcher: str) -> None:
    if launcher == "submitit_local":
        pytest.importorskip(
            "hydra_plugins.hydra_submitit_launcher", reason="pip install '.[slurm]'"
        )
    first = _sweep(tmp_path, launcher)
    assert first.returncode == 0, first.stdout + first.stderr
    sweep = tmp_path / "sweeps" / "rf"
    jobs = sorted(p.name for p in sweep.iterdir() if (p / "status.json").is_file())
    assert jobs == ["seed=0", "seed=1", "seed=2"]  # the swept key names the folders
    if launcher == "local_gpus":  # a job that ran: its log moved into its folder
        assert (sweep / "seed=1" / "launcher.log").read_text().startswith("CUDA_VISIBLE_DEVICES=")
    before = {j: folder_digest(sweep / j) for j in jobs}

    again = _sweep(tmp_path, launcher, XMSEM_TEST_REFUSE_SEEDS="1")
    out = again.stdout
    assert again.returncode == 1, out + again.stderr
    assert "2 completed, 1 refused" in out, out + again.stderr
    assert "refused: seed=1: " in out and "holds a run of another config (test)" in out
    assert "Traceback" not in again.stderr
    # skipped (seeds 0, 2) and refused (seed 1): every byte of every folder as it was
    assert {j: folder_digest(sweep / j) for j in jobs} == before


def test_swept_keys_travel_with_the_submitit_job(monkeypatch) -> None:
    """The job's process gets the sweep's swept keys from the pickle, not from sbatch's export."""
    pytest.importorskip("hydra_plugins.hydra_submitit_launcher", reason="pip install '.[slurm]'")
    from hydra_plugins.xmsem_launchers.submitit_launchers import XmsemSlurmLauncher

    # the base class it was built on (Hydra's plugin scan may have loaded a second copy of
    # hydra-submitit's module, so importing the name here could give another class object)
    (base,) = [c for c in XmsemSlurmLauncher.__mro__ if c.__name__ == "BaseSubmititLauncher"]

    monkeypatch.setattr(base, "launch", lambda self, o, i: [pickle.dumps(self)])
    monkeypatch.setattr(base, "__call__",
                        lambda self, *a: os.environ.get(SWEPT_KEYS_ENV))  # fmt: skip
    monkeypatch.setenv(SWEPT_KEYS_ENV, "seed,data.seed")
    (pickled,) = XmsemSlurmLauncher(submitit_folder="unused").launch([["seed=0"]], 0)
    monkeypatch.delenv(SWEPT_KEYS_ENV)  # the job's node: sbatch exported nothing
    job = pickle.loads(pickled)
    assert job() == "seed,data.seed"
