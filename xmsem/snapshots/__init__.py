"""Representation snapshots: their files (``store``) and the alignment rows computed from them
(``measure``). Shared by the live callback (xmsem.lit) and the sweep analysis (xmsem.analyze)."""

from xmsem.snapshots.measure import MeasureSettings, member_rows, pair_rows
from xmsem.snapshots.store import SnapshotStore

__all__ = ["MeasureSettings", "SnapshotStore", "member_rows", "pair_rows"]
