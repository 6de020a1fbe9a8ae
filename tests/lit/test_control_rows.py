"""Control rows of a snapshot: chance values per pair, CKA(input, h) per layer."""

from __future__ import annotations

import pytest
import torch

from xmsem.alignment import linear_cka, prepare
from xmsem.alignment.chance import linear_cka_chance
from xmsem.snapshots import MeasureSettings, member_rows, pair_rows


def _data(n=80, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 6, generator=g, dtype=torch.float64)
    a = {"h1": torch.tanh(x @ torch.randn(6, 12, generator=g, dtype=torch.float64))}
    b = {"h1": torch.relu(x @ torch.randn(6, 10, generator=g, dtype=torch.float64))}
    return x, a, b, torch.arange(n) % 3


def test_null_and_input_rows():
    x, a, b, y = _data()
    s = MeasureSettings(metrics=("linear_cka", "subspace_overlap"), subspace_k=4)
    rows = {
        r["metric"]: r["value"] for r in pair_rows("pgnn", "mlp", a, b, [("h1", "h1")], y, 40, s)
    }
    assert rows["linear_cka_null"] == pytest.approx(
        linear_cka_chance(prepare(a["h1"]), prepare(b["h1"]))
    )
    assert rows["subspace_overlap_null"] == pytest.approx(4 / 79)
    assert rows["linear_cka"] > rows["linear_cka_null"]  # related through x: above chance
    mrows = {r["metric"]: r["value"] for r in member_rows("pgnn", a, y, 40, s, inputs=x)}
    assert mrows["input_cka"] == pytest.approx(float(linear_cka(x, a["h1"])), rel=1e-10)
    off = MeasureSettings(metrics=("linear_cka",), controls=False)
    metrics = {r["metric"] for r in pair_rows("pgnn", "mlp", a, b, [("h1", "h1")], y, 40, off)}
    assert metrics == {"linear_cka"}
