"""Structured config of the ``xmsem_local_gpus`` launcher, registered in Hydra's ConfigStore."""

from dataclasses import dataclass
from typing import Any, Optional

from hydra.core.config_store import ConfigStore


@dataclass
class LocalGpusLauncherConf:
    """``hydra.launcher`` keys of ``launcher=local_gpus``."""

    _target_: str = "hydra_plugins.xmsem_launchers.local_gpus_launcher.LocalGpusLauncher"
    # GPU ids to use, e.g. [0,1] or "0,2,5"; null = every visible GPU (CUDA_VISIBLE_DEVICES,
    # else `nvidia-smi -L`, else torch.cuda.device_count()).
    gpus: Optional[Any] = None  # noqa: UP045 - OmegaConf structured configs need typing.Optional
    # Jobs that may share one GPU at a time (slots = len(gpus) * jobs_per_gpu).
    jobs_per_gpu: int = 1
    # Interpreter of the job processes; null = the one running the sweep (sys.executable).
    python: Optional[str] = None  # noqa: UP045
    # Module whose Hydra app each job re-invokes in RUN mode (`python -m <module> ...`).
    module: str = "xmsem.train"
    # Seconds between checks for finished jobs.
    poll_interval_s: float = 0.5


ConfigStore.instance().store(
    group="hydra/launcher",
    name="xmsem_local_gpus",
    node=LocalGpusLauncherConf,
    provider="xmsem",
)
