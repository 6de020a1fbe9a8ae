"""Helpers of the run-record tests: a folder's exact content, and the tiny CLI command."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT, TINY


def folder_digest(folder: Path) -> dict[str, str]:
    """{relative path: sha256} of every file under ``folder`` (dot files included)."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(Path(folder).rglob("*"))
        if p.is_file()
    }


def cli(args: list[str], timeout: float = 300, **kwargs) -> subprocess.CompletedProcess:
    """``python -m xmsem.train <tiny settings> <args>`` in a subprocess, output captured."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "WANDB_MODE": "disabled"}
    cmd = [sys.executable, "-m", "xmsem.train", *TINY, *args]
    return subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=timeout, **kwargs)  # fmt: skip
