"""Atomic file writes: write to a temp file in the same folder, fsync, then rename over the target.

A reader (or a run killed mid-write) never sees a half-written file: it sees the old content or
the new one. Files get the permissions the process umask allows (mkstemp alone would give 0600),
and a failed write (full disk, no permission) raises an OSError naming the target path.
"""

from __future__ import annotations

import errno
import os
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

_UMASK_LOCK = threading.Lock()


def file_mode() -> int:
    """0o666 less the process umask: the mode ``open()`` would give a new file."""
    with _UMASK_LOCK:  # reading the umask means setting it; keep other threads out meanwhile
        mask = os.umask(0o022)
        os.umask(mask)
    return 0o666 & ~mask


def _named(err: BaseException, path: Path) -> OSError:
    """``err`` as an OSError that names ``path`` (torch reports a full disk as RuntimeError)."""
    if isinstance(err, OSError):
        return OSError(err.errno, err.strerror or str(err), str(path))
    try:
        full = os.statvfs(path.parent).f_bavail == 0
    except OSError:
        full = False
    code = errno.ENOSPC if full else errno.EIO
    return OSError(code, os.strerror(code), str(path))


def _atomic_write(path: str | Path, write: Callable[[BinaryIO], None]) -> Path:
    """Let ``write`` fill a temp file next to ``path``, fsync it, then rename it over ``path``."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as err:
        raise _named(err, path) from err
    try:
        os.fchmod(fd, file_mode())
        with os.fdopen(fd, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException as err:
        Path(tmp).unlink(missing_ok=True)
        # torch's zip writer reports a failed write (full disk) as RuntimeError("...writ...")
        if isinstance(err, OSError) or (isinstance(err, RuntimeError) and "writ" in str(err)):
            raise _named(err, path) from err
        raise
    return path


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (parents are created)."""
    return _atomic_write(path, lambda handle: handle.write(data))


def atomic_write_text(path: str | Path, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    return atomic_write_bytes(path, text.encode("utf-8"))


def atomic_torch_save(obj: Any, path: str | Path) -> Path:
    """``torch.save`` to ``path`` atomically (streamed into the temp file, no in-memory copy)."""
    import torch  # here, not at the top: config validation imports this package before torch

    return _atomic_write(path, lambda handle: torch.save(obj, handle))
