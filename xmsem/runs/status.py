"""``status.json``: the state of one run (running, completed, failed) and where it ran.

Written atomically at start, at the end and on failure; a rerun reads it to decide whether to
skip (completed), resume (running: the process died) or retry (failed).
"""

from __future__ import annotations

import json
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

STATUS_FILE = "status.json"
STATES = ("running", "completed", "failed")
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


@dataclass
class RunStatus:
    """Reads and writes ``<run_dir>/status.json``."""

    run_dir: Path

    @property
    def path(self) -> Path:
        return Path(self.run_dir) / STATUS_FILE

    def read(self) -> dict[str, Any] | None:
        """The stored status, or None when the run never started (or the file is unreadable)."""
        try:
            return json.loads(self.path.read_text())
        except (OSError, ValueError):
            return None

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
