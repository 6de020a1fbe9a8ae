"""Hydra callback printing the state of every job of a sweep when the sweep ends.

Registered in conf/hydra/default.yaml. A job that fails is recorded in its status.json and the sweep
goes on (see xmsem.train); at the end this prints one line per failed or unfinished job and a
count, and makes the sweep command exit with status 1 when any job of the sweep failed, so
scripts notice. Rerunning the same command retries exactly those jobs.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

log = logging.getLogger("xmsem.sweep")


def sweep_states(sweep_dir: Path) -> dict[str, list[tuple[Path, dict]]]:
    """Jobs of ``sweep_dir`` (folders with a status.json) grouped by state."""
    from xmsem.runs.status import STATUS_FILE, RunStatus  # lazy: keeps Hydra's start-up light

    groups: dict[str, list[tuple[Path, dict]]] = {}
    for path in sorted(Path(sweep_dir).glob(f"*/{STATUS_FILE}")):
        data = RunStatus(path.parent).read() or {"state": "unreadable"}
        groups.setdefault(data.get("state", "unknown"), []).append((path.parent, data))
    return groups


class SweepSummary(Callback):
    """Prints completed / failed / unfinished counts of the sweep dir at the end of a multirun."""

    def __init__(self, exit_on_failure: bool = True) -> None:
        self.exit_on_failure = exit_on_failure

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        sweep_dir = Path(str(config.hydra.sweep.dir))
        groups = sweep_states(sweep_dir)
        counts = ", ".join(f"{len(v)} {k}" for k, v in sorted(groups.items()))
        print(f"xmsem sweep {sweep_dir}: {counts or 'no jobs'}")
        for state in ("failed", "running", "unreadable"):
            for job_dir, data in groups.get(state, []):
                print(f"  {state}: {job_dir.name}: {data.get('error') or 'interrupted'}")
        if groups.get("failed") and self.exit_on_failure:
            print("  rerun the same command to retry the failed jobs (completed ones are skipped)")
            raise SystemExit(1)
