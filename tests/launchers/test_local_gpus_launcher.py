"""``launcher=local_gpus`` end to end on CPU: real sweeps, each job in its own process.

The fast tests drive the plugin with a tiny Hydra app on the project's conf (``_app.py``: it
records the CUDA_VISIBLE_DEVICES it saw); the slow one runs ``python -m xmsem.train`` itself.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hydra.core.override_parser.overrides_parser import OverridesParser

from hydra_plugins.xmsem_launchers.local_gpus_launcher import quote_override_value

ROOT = Path(__file__).resolve().parents[2]
APP = "tests.launchers._app"


def _run(args: list[str], timeout: float = 600, **env: str) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if k != "CUDA_VISIBLE_DEVICES"}
    full_env.update({"WANDB_MODE": "disabled", "HYDRA_FULL_ERROR": "0", **env})
    return subprocess.run(
        [sys.executable, "-m", *args],
        cwd=ROOT,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def _job_dirs(sweep: Path) -> dict[str, Path]:
    """Job folders (hidden ones, e.g. the launcher's .local_gpus/ logs, are not jobs)."""
    return {p.name: p for p in sweep.iterdir() if p.is_dir() and not p.name.startswith(".")}


@pytest.mark.parametrize(
    "path",
    ["/tmp/a b/x=1,y=[8],seed=0", "/t/back\\slash/end\\", "/t/q'uote/d\"q", "/t/{a}:b"],
)
def test_quoted_run_dir_survives_hydras_override_parser(path: str):
    override = OverridesParser.create().parse_override(
        f"hydra.run.dir={quote_override_value(path)}"
    )
    assert override.value() == path


def test_sweep_runs_each_job_in_its_own_process_on_one_gpu(tmp_path: Path):
    sweep_args = ["seed=0,1,2", "name=lg"]
    proc = _run(
        [
            APP,
            "-m",
            "launcher=local_gpus",
            "hydra.launcher.gpus=[3,5]",
            f"hydra.launcher.module={APP}",
            "hydra.launcher.poll_interval_s=0.05",
            *sweep_args,
            f"paths.output_dir={tmp_path / 'gpus'}",
        ],
        XMSEM_TEST_SLEEP="0.5",
        XMSEM_TEST_FAIL_SEEDS="1",
        XMSEM_TEST_CRASH_SEEDS="2",
    )
    # job 1 failed (recorded in its status.json), job 2 died without a record: all three ran,
    # then the sweep ends with exit 1 and one line for the unrecorded crash (Hydra FAILED)
    assert proc.returncode == 1, proc.stderr
    assert "local_gpus: 1 ok, 2 failed" in proc.stdout
    assert "2 of 3 jobs failed; job #2 failed (exit code 3)" in proc.stderr
    # a recorded failure is COMPLETED for Hydra, as under the basic launcher (the sweep-end
    # summary reports it), so Hydra names only the unrecorded crash
    assert "job #1" not in proc.stderr
    assert "Traceback" not in proc.stderr

    # the same folders as Hydra's basic launcher
    basic = _run([APP, "-m", *sweep_args, f"paths.output_dir={tmp_path / 'basic'}"])
    assert basic.returncode == 0, basic.stderr
    dirs = _job_dirs(tmp_path / "gpus" / "sweeps" / "lg")
    assert set(dirs) == set(_job_dirs(tmp_path / "basic" / "sweeps" / "lg"))
    assert set(dirs) == {f"seed={s}" for s in range(3)}

    jobs = {}
    for name, d in dirs.items():
        info = json.loads((d / "job.json").read_text())
        jobs[name] = info
        log_lines = (d / "launcher.log").read_text().splitlines()
        gpu = info["cuda_visible_devices"]
        assert gpu in {"3", "5"}  # exactly one GPU id
        assert log_lines[0].startswith(f"CUDA_VISIBLE_DEVICES={gpu} ")
        assert f"job sees CUDA_VISIBLE_DEVICES={gpu}" in log_lines
        assert info["mode"] == "RunMode.RUN"  # re-invoked as a single run
        assert (d / ".hydra" / "overrides.yaml").is_file()
    assert "seed 1 fails on purpose" in (dirs["seed=1"] / "launcher.log").read_text()
    # a fresh process per job, and never two jobs on one GPU at the same time
    assert len({j["pid"] for j in jobs.values()}) == 3
    for gpu in ("3", "5"):
        spans = sorted(
            (j["start"], j["end"]) for j in jobs.values() if j["cuda_visible_devices"] == gpu
        )
        assert spans, gpu
        assert all(
            a_end <= b_start for (_, a_end), (b_start, _) in zip(spans, spans[1:], strict=False)
        )


def test_no_gpu_is_one_clear_line(tmp_path: Path):
    proc = _run(
        [APP, "-m", "launcher=local_gpus", "seed=0,1", f"paths.output_dir={tmp_path}"],
        CUDA_VISIBLE_DEVICES="",
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "xmsem: error: hydra.launcher.gpus: no GPU found (CUDA_VISIBLE_DEVICES, nvidia-smi -L and "
        "torch.cuda.device_count() found none); use launcher=basic on a CPU machine or give the "
        "ids, e.g. hydra.launcher.gpus=[0,1]"
    ]
    assert not (tmp_path / "sweeps" / "default" / "seed=0").exists()


@pytest.mark.slow
def test_xmsem_train_sweep_on_local_gpus(tmp_path: Path):
    """The real app: two tiny synthetic runs, completed, in the basic launcher's folders."""
    overrides = [
        "data.n_train=400",
        "data.n_test=200",
        "data.val_size=100",
        "data.input_dim=8",
        "model=mlp",
        "model.mlp.hidden=[8]",
        "trainer.max_epochs=1",
        "callbacks=none",
        "trainer.accelerator=cpu",
        "seed=0,1",
        f"paths.output_dir={tmp_path}",
    ]
    proc = _run(
        ["xmsem.train", "-m", "launcher=local_gpus", "hydra.launcher.gpus=[0,1]", *overrides],
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "local_gpus: 2 ok, 0 failed" in proc.stdout
    sweep = tmp_path / "sweeps" / "default"
    # the folder each job gets from xmsem.config.run_id, as under the basic launcher: the swept
    # seed, then a hash of the other overrides (trainer.max_epochs and paths.* left out)
    from xmsem.config import run_id

    rest = [o for o in overrides if not o.startswith("seed=")]
    exclude = ["trainer.max_epochs", "paths.output_dir", "trainer.accelerator"]
    expected = {run_id([*rest, f"seed={s}"], exclude, swept=["seed"]) for s in (0, 1)}
    dirs = _job_dirs(sweep)
    assert set(dirs) == expected
    gpus = set()
    for d in dirs.values():
        status = json.loads((d / "status.json").read_text())
        assert status["state"] == "completed", status
        assert (d / "checkpoints" / "last.ckpt").is_file()
        first = (d / "launcher.log").read_text().splitlines()[0]
        gpus.add(first.split()[0])
    assert gpus == {"CUDA_VISIBLE_DEVICES=0", "CUDA_VISIBLE_DEVICES=1"}

    # rerunning the sweep skips the completed runs (same folders, nothing retrained)
    again = _run(
        ["xmsem.train", "-m", "launcher=local_gpus", "hydra.launcher.gpus=[0]", *overrides],
        timeout=600,
    )
    assert again.returncode == 0, again.stdout + again.stderr
    assert set(_job_dirs(sweep)) == expected
    for d in dirs.values():
        assert "already completed" in (d / "launcher.log").read_text()
