"""Keep large freed buffers in the process instead of returning them to the OS (glibc only).

By default glibc serves every allocation above 128 KiB with a fresh ``mmap`` and unmaps it on
free, so each new large tensor (a 10,000 x 256 float64 snapshot matrix is 20 MB) is paid again in
page faults — about a second per snapshot here, most of it on the first. Raising the mmap and
trim thresholds to 1 GiB makes glibc reuse such blocks from its heap, the usual advice for
PyTorch on CPU. The process keeps its peak memory; nothing else changes.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_THRESHOLD = 1 << 30


def keep_freed_memory() -> bool:
    """Apply the thresholds; True when glibc accepted them (False elsewhere, harmlessly)."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return bool(libc.mallopt(_M_MMAP_THRESHOLD, _THRESHOLD)) and bool(
            libc.mallopt(_M_TRIM_THRESHOLD, _THRESHOLD)
        )
    except (OSError, AttributeError):
        return False
