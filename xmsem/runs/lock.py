"""One process per run folder: an exclusive ``flock`` on ``<run dir>/.lock``.

A second process reaching the same run (two copies of one sweep, a requeued job whose first copy
still runs) gets :class:`RunLocked` at once instead of training the run a second time. The lock
is released by the kernel when the holder exits, however it exits, so a killed run never leaves
a stale lock behind.

An attempt that takes the lock but does not train (a refused or skipped rerun) must leave the
folder as it found it: unless the holder calls :meth:`RunLock.claim`, the lock file gets its old
bytes back on release, or is removed (with the folder, when the lock created it and it is empty).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

LOCK_FILE = ".lock"


class RunLocked(RuntimeError):
    """Another live process holds the run folder."""


@dataclass
class RunLock:
    """The held lock of one run folder (what :func:`run_lock` yields)."""

    path: Path
    previous: bytes | None  # the lock file's bytes before this attempt (None: it did not exist)
    created_dir: bool  # the run folder itself was created by taking the lock
    claimed: bool = False

    def claim(self) -> None:
        """This attempt trains: the folder is its to change (the lock file keeps our pid)."""
        self.claimed = True

    def _restore(self, fd: int) -> None:
        """Put the folder back as it was (called while the lock is still held)."""
        if self.previous is None:
            self.path.unlink(missing_ok=True)
            if self.created_dir:
                with contextlib.suppress(OSError):  # not empty: something else lives there
                    self.path.parent.rmdir()
            return
        os.ftruncate(fd, 0)
        os.pwrite(fd, self.previous, 0)


@contextmanager
def run_lock(run_dir: str | Path) -> Iterator[RunLock]:
    """Hold the run folder's lock for the ``with`` block; :class:`RunLocked` when it is taken.

    The holder's pid is written into the lock file (the message of a refused second process
    names it); an unclaimed lock restores the file's previous bytes on release."""
    path = Path(run_dir) / LOCK_FILE
    created_dir = not path.parent.exists()
    path.parent.mkdir(parents=True, exist_ok=True)
    existed = path.exists()
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    lock: RunLock | None = None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "?"
            raise RunLocked(
                f"{run_dir} is being run by another process (pid {holder}); skipped"
            ) from None
        size = os.fstat(fd).st_size
        previous = os.pread(fd, size, 0) if existed else None
        lock = RunLock(path, previous, created_dir)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield lock
    finally:
        if lock is not None and not lock.claimed:
            with contextlib.suppress(OSError):
                lock._restore(fd)
        os.close(fd)  # closing the descriptor releases the flock
