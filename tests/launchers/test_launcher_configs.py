"""Every ``launcher=`` option composes with the project's conf and selects the right plugin."""

from __future__ import annotations

from pathlib import Path

import pytest
from hydra.core.plugins import Plugins
from hydra.plugins.launcher import Launcher
from hydra.utils import instantiate

from tests.conftest import compose_cfg

LOCAL = "hydra_plugins.xmsem_launchers.local_gpus_launcher.LocalGpusLauncher"
SLURM = "hydra_plugins.xmsem_launchers.submitit_launchers.XmsemSlurmLauncher"  # submitit_slurm + swept keys, refusals


def test_basic_is_the_default(tmp_path: Path):
    cfg = compose_cfg([], tmp_path)
    assert cfg.hydra.runtime.choices["launcher"] == "basic"
    assert cfg.hydra.launcher._target_.endswith("BasicLauncher")


def test_local_gpus_composes_and_instantiates(tmp_path: Path):
    cfg = compose_cfg(["launcher=local_gpus"], tmp_path)
    lc = cfg.hydra.launcher
    assert lc._target_ == LOCAL
    assert cfg.hydra.runtime.choices["hydra/launcher"] == "xmsem_local_gpus"
    assert (lc.gpus, lc.jobs_per_gpu, lc.python, lc.module) == (None, 1, None, "xmsem.train")
    # the plugin is discovered by Hydra under the hydra_plugins namespace
    assert LOCAL in {f"{p.__module__}.{p.__name__}" for p in Plugins.instance().discover(Launcher)}
    cfg = compose_cfg(
        ["launcher=local_gpus", "hydra.launcher.gpus=[0,2]", "hydra.launcher.jobs_per_gpu=3"],
        tmp_path,
    )
    launcher = instantiate(cfg.hydra.launcher)
    assert type(launcher).__name__ == "LocalGpusLauncher"
    assert launcher.gpus == [0, 2] and launcher.jobs_per_gpu == 3
    assert launcher.python  # sys.executable when null


def test_local_gpus_rejects_an_unknown_key(tmp_path: Path):
    with pytest.raises(Exception, match="gpu_ids"):
        compose_cfg(["launcher=local_gpus", "hydra.launcher.gpu_ids=[0]"], tmp_path)


def test_slurm_composes_with_documented_defaults(tmp_path: Path):
    cfg = compose_cfg(["launcher=slurm", "name=study"], tmp_path)
    lc = cfg.hydra.launcher
    assert lc._target_ == SLURM
    assert cfg.hydra.runtime.choices["hydra/launcher"] == "xmsem_submitit_slurm"
    assert lc.timeout_min > 0 and lc.max_num_timeout >= 1
    assert (lc.nodes, lc.tasks_per_node, lc.gpus_per_node) == (1, 1, 1)
    assert lc.cpus_per_task >= 1 and lc.mem_gb >= 1 and lc.array_parallelism >= 1
    assert lc.partition is None
    assert lc.name == "xmsem-study"
    # submitit's files live inside the (deterministic) sweep dir
    sweep_dir = Path(cfg.hydra.sweep.dir)
    assert sweep_dir == tmp_path / "sweeps" / "study"
    assert Path(lc.submitit_folder).parent.parent == sweep_dir


def test_slurm_launcher_is_checkpointable_so_submitit_requeues(tmp_path: Path):
    """submitit requeues a timed-out job only if the submitted callable has ``checkpoint``."""
    pytest.importorskip("submitit")
    from submitit.helpers import DelayedSubmission

    cfg = compose_cfg(["launcher=slurm"], tmp_path)
    launcher = instantiate(cfg.hydra.launcher)
    assert callable(getattr(launcher, "checkpoint", None))
    args = (["seed=3"], "hydra.sweep.dir", 7, "job_id_for_7", {})
    resubmission = launcher.checkpoint(*args)
    assert isinstance(resubmission, DelayedSubmission)
    # the same callable with the same overrides and job number: the same run dir, so the
    # requeued job resumes from checkpoints/last.ckpt
    assert resubmission.function is launcher
    assert resubmission.args == args
    assert launcher.params["max_num_timeout"] == cfg.hydra.launcher.max_num_timeout
