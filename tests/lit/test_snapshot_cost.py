"""The snapshot cost estimate counts the cheaper side of wide layers; progress lines report the
share done and the time left."""

from __future__ import annotations

import pytest

from xmsem.snapshots.cost import (
    SnapshotProgress,
    describe_cost,
    estimate_flops,
    pair_flops,
    representation_flops,
)
from xmsem.snapshots.measure import MeasureSettings


def test_wide_layers_are_counted_on_the_examples_side() -> None:
    s = MeasureSettings(metrics=["linear_cka"])
    n = 2000
    assert representation_flops(n, 12_544, s) == 2.0 * n * 12_544 * n  # kernel, not d x d Gram
    assert representation_flops(n, 64, s) == 2.0 * n * 64 * 64
    assert pair_flops(n, 12_544, 12_544, s) == 2.0 * n * n  # <K, L>_F
    assert pair_flops(n, 12_544, 64, s) == 2.0 * n * n * 64  # tr(Y^T K Y)
    assert pair_flops(n, 64, 32, s) == 2.0 * n * 64 * 32
    with_subspace = MeasureSettings(metrics=["subspace_overlap"], subspace_k=10)
    # Lanczos on the 2000 x 2000 kernel, not eigh of a 12,544 x 12,544 Gram (~1.8e13 flops)
    assert representation_flops(n, 12_544, with_subspace) - representation_flops(n, 12_544, s) == (
        60.0 * n * n * 10
    )
    widths = {("net", "conv1"): 12_544, ("net", "pool"): 256}
    total = estimate_flops(widths, [(("net", "conv1"), ("net", "pool"))], n, s)
    assert total == pytest.approx(2.0 * n * 12_544 * n + 2.0 * n * 256 * 256 + 2.0 * n * n * 256)
    assert "widest layer net/conv1: 12,544 features on 2,000 probe examples" in describe_cost(
        total, widths, n
    )


def test_progress_lines_give_share_and_time_left() -> None:
    lines: list[str] = []
    progress = SnapshotProgress(3, total_flops=400.0, after=0.0, every=0.0, emit=lines.append)
    progress.step("prepared", 100.0)
    progress.step("pgnn x mlp", 100.0)
    assert lines[0].startswith("snapshot epoch 3: 25% done (prepared)")
    assert lines[1].startswith("snapshot epoch 3: 50% done (pgnn x mlp)") and "s left" in lines[1]
    quiet: list[str] = []
    short = SnapshotProgress(0, total_flops=1.0, emit=quiet.append)  # defaults: after 3 s
    short.step("all", 1.0)
    assert quiet == []
