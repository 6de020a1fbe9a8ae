"""``status.json``: the state of one run (running, completed, failed, interrupted) and where it ran.

Written atomically at start, at the end and on failure; a rerun reads it to decide whether to
skip (completed), resume (running: the process died) or retry (failed).
"""

from __future__ import annotations

import json
import logging
import platform
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from xmsem.runs.atomic import atomic_write_text

log = logging.getLogger("xmsem.runs")
STATUS_FILE = "status.json"
STATES = ("running", "completed", "failed", "interrupted")
# runs that record epochs as epochs trained (0 = before training) say so; older status files
# recorded ``best_epoch`` as Lightning's 0-based epoch index (:func:`results_in_epochs_trained`)
EPOCH_CONVENTION = "epochs_trained"
_PACKAGES = (
    "xmsem",
    "torch",
    "torchvision",
    "lightning",
    "hydra-core",
    "omegaconf",
    "torchmetrics",
    "wandb",
    "numpy",
)


def _git_commit() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            cwd=Path(__file__).resolve().parent,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def environment_info(device: str | None = None) -> dict[str, Any]:
    """Git commit, package versions, python, host and device of the current process."""
    versions = {}
    for name in _PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return {
        "git_commit": _git_commit(),
        "packages": versions,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "host": socket.gethostname(),
        "device": device,
    }


def results_in_epochs_trained(status: dict[str, Any]) -> dict[str, Any]:
    """The ``results`` of a status with every epoch counted as epochs trained: a status written
    before the convention (no ``epoch_convention``) has its ``val/<model>/best_epoch`` raised by
    one (it held the 0-based epoch index); its other epochs already counted epochs trained."""
    results = dict(status.get("results") or {})
    if status.get("epoch_convention") == EPOCH_CONVENTION:
        return results
    for key, value in results.items():
        if (
            key.startswith("val/")
            and key.endswith("/best_epoch")
            and isinstance(value, int | float)
        ):
            results[key] = int(value) + 1
    return results


@dataclass
class RunStatus:
    """Reads and writes ``<run_dir>/status.json``."""

    run_dir: Path

    @property
    def path(self) -> Path:
        return Path(self.run_dir) / STATUS_FILE

    def read(self) -> dict[str, Any] | None:
        """The stored status, or None when the run never started (or the file is unreadable or
        not a JSON object)."""
        try:
            data = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) else None

    def recover(self) -> Path | None:
        """Back up a corrupt or wrong-shaped status.json (``status.json.bad-<time>``) and remove
        it, with a one-line warning; the caller then writes a fresh one. The backup's path, or
        None when the file is absent or fine."""
        if not self.path.is_file():
            return None
        data = self.read()
        if data is not None and data.get("state") in STATES:
            return None
        backup = self.path.with_name(f"{STATUS_FILE}.bad-{time.strftime('%Y%m%d-%H%M%S')}")
        self.path.replace(backup)
        log.warning(
            "xmsem: %s was unreadable or malformed; backed up to %s", self.path, backup.name
        )
        return backup

    @property
    def state(self) -> str | None:
        data = self.read()
        return data.get("state") if data else None

    def write(self, state: str, **fields: Any) -> dict[str, Any]:
        """Merge ``fields`` into the stored status, set ``state`` and the time; write atomically."""
        if state not in STATES:
            raise ValueError(f"state={state!r} is not one of {', '.join(STATES)}")
        data = self.read() or {}
        data.update(fields)
        data["state"] = state
        data["updated"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
        atomic_write_text(self.path, json.dumps(data, indent=2, sort_keys=True, default=str) + "\n")
        return data
