"""``<out>/cache/pairs.json``: cross-run pair values keyed by what they were computed from.

A key names both model instances (run folder, member), the epoch, the layer, the metric with its
parameters, and a fingerprint of each instance's snapshot files (mtime_ns and size of the epoch's
manifest and of the layer file). A rerun or a retrained run changes its fingerprint, so only its
pairs are computed again; pairs of unchanged runs are reused. Saved atomically; an unreadable
cache is ignored (everything is recomputed).
"""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path

from xmsem.runs.atomic import atomic_write_text
from xmsem.snapshots import SnapshotStore

CACHE_VERSION = 1


def snapshot_fingerprint(store: SnapshotStore, epoch: int, member: str, layer: str) -> str:
    """Short hash of (mtime_ns, size) of the epoch manifest and of the layer file."""
    parts = []
    for path in (
        store.epoch_dir(epoch) / "manifest.json",
        store.epoch_dir(epoch) / member / f"{layer}.pt",
    ):
        try:
            st = path.stat()
            parts.append(f"{st.st_mtime_ns}:{st.st_size}")
        except OSError:
            parts.append("missing")
    return hashlib.sha1("|".join(parts).encode()).hexdigest()[:12]


class PairCache:
    """A dict of pair values persisted as JSON; tracks hits and the keys used in this analysis."""

    def __init__(self, folder: Path | None) -> None:
        self.path = Path(folder) / "pairs.json" if folder is not None else None
        self.entries: dict[str, float] = {}
        self.used: set[str] = set()
        if self.path is not None and self.path.is_file():
            try:
                data = json.loads(self.path.read_text())
                if data.get("version") == CACHE_VERSION:
                    self.entries = {
                        k: math.nan if v is None else float(v) for k, v in data["entries"].items()
                    }
            except (OSError, ValueError, KeyError, TypeError, AttributeError):
                self.entries = {}

    @staticmethod
    def key(*parts: object) -> str:
        return "|".join(str(p) for p in parts)

    def get(self, key: str) -> float | None:
        if key in self.entries:
            self.used.add(key)
            return self.entries[key]
        return None

    def put(self, key: str, value: float) -> None:
        self.entries[key] = float(value)
        self.used.add(key)

    def save(self) -> Path | None:
        """Write the entries used by this analysis (stale ones are dropped)."""
        if self.path is None:
            return None
        kept = {
            k: (None if math.isnan(v) else v) for k, v in self.entries.items() if k in self.used
        }
        text = json.dumps({"version": CACHE_VERSION, "entries": kept}, sort_keys=True)
        atomic_write_text(self.path, text + "\n")
        return self.path
