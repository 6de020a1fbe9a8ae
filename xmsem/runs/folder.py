"""Housekeeping of a run folder at the start of an attempt: stale temp files, retired attempts."""

from __future__ import annotations

import logging
import shutil
import time
from pathlib import Path

log = logging.getLogger("xmsem.runs")
RETIRED = "retired"
# kept in place when an attempt is retired: the lock, older retired attempts, launcher files of
# the new attempt (the new attempt's record and train.log are written after the retirement)
_KEEP = {".lock", RETIRED, "launcher.log", ".submitit"}


def remove_stale_temps(run_dir: Path) -> list[Path]:
    """Delete temp files (``.<name>.<random>.tmp``) that an interrupted atomic write left behind.

    Only call while holding the run's lock: then no live writer can own them."""
    removed = []
    for path in Path(run_dir).rglob(".*.tmp"):
        if RETIRED in path.relative_to(run_dir).parts or not path.is_file():
            continue
        path.unlink(missing_ok=True)
        removed.append(path)
    if removed:
        log.info(
            "removed %d stale temp file(s) of an interrupted write in %s", len(removed), run_dir
        )
    return removed


def retire_attempt(run_dir: Path) -> Path | None:
    """Move the previous attempt's files to ``retired/<time>/`` (never mixed with the new one)."""
    run_dir = Path(run_dir)
    movable = [p for p in run_dir.iterdir() if p.name not in _KEEP] if run_dir.is_dir() else []
    if not movable:
        return None
    dest = run_dir / RETIRED / time.strftime("%Y%m%d-%H%M%S")
    n = 1
    while dest.exists():
        dest = dest.with_name(f"{dest.name.split('.')[0]}.{n}")
        n += 1
    dest.mkdir(parents=True)
    for path in movable:
        path.rename(dest / path.name)
    log.warning("xmsem: force=true: the previous attempt is moved to %s", dest)
    return dest


def discard_unstarted(run_dir: Path) -> bool:
    """Remove a folder Hydra created for a run that never started (a config error): it is empty
    (or, from older versions, holds only ``.hydra/`` and ``train.log``), so analysis would list
    it as an incomplete run."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir() or (run_dir / "status.json").exists():
        return False
    if any(p.name not in {".hydra", "train.log"} for p in run_dir.iterdir()):
        return False
    shutil.rmtree(run_dir, ignore_errors=True)
    return True
