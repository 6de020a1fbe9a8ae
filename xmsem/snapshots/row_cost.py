"""What a snapshot plan will cost, known before the first snapshot: rows, bytes, seconds.

Seed pairs grow as K^2: ``ensemble=1000`` with two 16-wide layers spent 307 s in the epoch-0
snapshot and wrote 6,064,000 rows (352 MB) with no warning at 701789c. :func:`estimate` counts
the rows of one snapshot from the plan (the same pair and layer choices the snapshot makes);
bytes and seconds come from per-row costs measured here (58 bytes of CSV per row; ~50 us per
row, the 307 s / 6.06 M rows of that run, an upper bound now that the seed-pair loop converts
each matrix once). The callback warns in one line above :data:`WARN_ROWS` rows per snapshot.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from xmsem.snapshots.copies import group_copies, plan_pairs, seed_pair_metrics
from xmsem.snapshots.measure import MeasureSettings, layer_pairs

WARN_ROWS = 200_000  # rows per snapshot above which the plan is announced before it starts
CSV_BYTES_PER_ROW = 58  # metrics/alignment.csv, measured (352 MB / 6.06 M rows)
SECONDS_PER_ROW = 50e-6  # measured upper bound on a 2-core CPU (see the module docstring)


@dataclass(frozen=True)
class SnapshotCost:
    rows: int  # rows of one snapshot
    seed_pair_rows: int  # of which between copies of one member (K^2 / 2 pairs)
    snapshots: int

    @property
    def csv_bytes(self) -> int:
        return self.rows * self.snapshots * CSV_BYTES_PER_ROW

    @property
    def seconds(self) -> float:
        return self.rows * SECONDS_PER_ROW

    def line(self) -> str:
        """The one-line warning."""
        return (
            f"snapshot plan: ~{self.rows:,} rows per snapshot ({self.seed_pair_rows:,} between "
            f"copies of a member, K^2/2 seed pairs), ~{self.seconds:,.0f} s each, "
            f"~{self.csv_bytes / 1e6:,.0f} MB of CSV over {self.snapshots} snapshots; fewer "
            "copies (ensemble), callbacks.representations.seed_pairs=false or fewer metrics "
            "make it smaller"
        )


def estimate(
    layers: Mapping[str, list[str]],
    split: Callable[[str], tuple[str, int | None]],
    settings: MeasureSettings,
    snapshots: int,
    pairs: str = "last",
    seed_pairs: bool = True,
    layer_cka: bool = True,
    cross_layer_cka: bool = True,
) -> SnapshotCost:
    """Rows of one snapshot of ``layers`` (model -> layer names) under these settings."""
    names = list(layers)
    metrics = len(settings.metrics)
    rows = 0
    for a, b in plan_pairs(names, split):  # different members, same copy: both directions
        rows += 2 * len(layer_pairs(layers[a], layers[b], pairs)) * metrics
        if cross_layer_cka:
            rows += len(layers[a]) * len(layers[b])
    for name in names:  # each model's own rows (probe accuracy, controls, layer x layer CKA)
        n = len(layers[name])
        rows += 4 * n + (n * (n + 1) // 2 if layer_cka else 0)
    between = 0
    if seed_pairs:
        wanted = len(seed_pair_metrics(settings))
        for copies in group_copies(names, split).values():
            k = len(copies)
            common = set(layers[copies[0]]).intersection(*(layers[c] for c in copies))
            between += k * (k - 1) // 2 * len(common) * wanted
    return SnapshotCost(rows + between, between, snapshots)
