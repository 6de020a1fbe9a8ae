"""Test-time noise robustness: sigma = 0 reproduces the clean numbers; more noise hurts."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import TINY, compose_cfg
from xmsem.snapshots.table import read_rows
from xmsem.train import run


def test_noise_levels_rows(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    overrides = [*TINY, "callbacks.representations.enabled=false", "callbacks.noise.enabled=true",
                 "callbacks.noise.levels=[0,0.5,5]"]  # fmt: skip
    results = run(compose_cfg(overrides, run_dir), run_dir)
    rows = {
        (r["member_a"], r["layer_a"], r["metric"]): float(r["value"]) for r in read_rows(run_dir)
    }
    for member in ("pgnn", "mlp"):
        clean = rows[(member, "output", "noise_acc@0")]
        assert clean == pytest.approx(results[f"test/{member}/acc"], abs=1e-6)
        assert rows[(member, "output", "noise_acc@5")] < clean
        for layer in ("h1", "h2"):
            assert rows[(member, layer, "noise_cka@0")] == pytest.approx(1.0, abs=1e-9)
            assert (
                rows[(member, layer, "noise_cka@5")] < rows[(member, layer, "noise_cka@0.5")] < 1.0
            )
