"""``xmsem_submitit_slurm`` / ``xmsem_submitit_local``: hydra-submitit's launchers, sweep-aware.

Two things the plain submitit launchers lose because each job runs in another process (another
node, under SLURM) from a pickle of the launcher:

* the swept keys that name the job folders (``seed=3~<hash>``, :func:`xmsem.config.run_id`):
  the sweep exports them as ``$XMSEM_SWEPT_KEYS`` in the submitting process, which a job only
  sees if sbatch happens to export the environment (``--export=NONE``, ``SBATCH_EXPORT`` or a
  site default can drop it). Here the value is captured in :meth:`launch` and travels in the
  pickle: each job sets it before Hydra composes its folder, so it lands where the basic
  launcher would put it whatever the cluster's export policy;
* refused jobs: a job returns :class:`~xmsem.runs.sweep_summary.Refused` in its own process, and
  Hydra runs the sweep summary's ``on_job_end`` there, not in the sweep; the returns are handed
  to :func:`~xmsem.runs.sweep_summary.note_refused` so the summary counts and prints them, and
  the sweep exits 1.

Registered only when ``hydra-submitit-launcher`` is installed (``pip install -e '.[slurm]'``).
"""

# no `from __future__ import annotations`: Hydra's plugin scan runs this module outside
# sys.modules, where dataclasses cannot resolve string annotations
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from hydra.core.config_store import ConfigStore

from xmsem.runs.sweep_summary import SWEPT_KEYS_ENV, note_refused

try:
    from hydra_plugins.hydra_submitit_launcher import config as _conf
    from hydra_plugins.hydra_submitit_launcher import submitit_launcher as _launchers
except ImportError:  # the extra is not installed: nothing to register
    _launchers = None


class SweepAwareMixin:
    """Carries the swept keys into each job; hands refused jobs to the sweep summary."""

    swept_keys: str | None = None

    def launch(self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int) -> Any:
        self.swept_keys = os.environ.get(SWEPT_KEYS_ENV)  # pickled with self into every job
        returns = super().launch(job_overrides, initial_job_idx)  # type: ignore[misc]
        note_refused(returns)
        return returns

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """In the job's process: the sweep's swept keys first, then Hydra composes the job."""
        if self.swept_keys is not None:
            os.environ[SWEPT_KEYS_ENV] = self.swept_keys
        return super().__call__(*args, **kwargs)  # type: ignore[misc]


if _launchers is not None:
    _HERE = "hydra_plugins.xmsem_launchers.submitit_launchers"

    class XmsemSlurmLauncher(SweepAwareMixin, _launchers.SlurmLauncher):
        """hydra-submitit's SLURM launcher, sweep-aware (module docstring)."""

    class XmsemLocalLauncher(SweepAwareMixin, _launchers.LocalLauncher):
        """hydra-submitit's local-process launcher, sweep-aware (module docstring)."""

    @dataclass
    class XmsemSlurmConf(_conf.SlurmQueueConf):
        _target_: str = f"{_HERE}.XmsemSlurmLauncher"

    @dataclass
    class XmsemLocalConf(_conf.LocalQueueConf):
        _target_: str = f"{_HERE}.XmsemLocalLauncher"

    ConfigStore.instance().store(
        group="hydra/launcher", name="xmsem_submitit_slurm", node=XmsemSlurmConf, provider="xmsem"
    )
    ConfigStore.instance().store(
        group="hydra/launcher", name="xmsem_submitit_local", node=XmsemLocalConf, provider="xmsem"
    )
