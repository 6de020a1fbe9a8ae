"""What a run prints: one line per epoch with an ETA, no doubled or irrelevant Lightning lines,
and an end-of-run table whose numbers are those of status.json and alignment.csv."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from tests.conftest import ROOT, TINY
from xmsem.launch.progress import SweepClock, count_jobs, duration
from xmsem.lit.progress import per_model, run_summary
from xmsem.snapshots.table import read_rows

EPOCH = re.compile(
    r"epoch (\d)/2 \| train loss pgnn (\d\.\d{3}) mlp \d\.\d{3} \| val acc pgnn (\d\.\d{3}) "
    r"mlp \d\.\d{3} \| \d+\.\ds \| (ETA \d+s|done)$"
)


@pytest.fixture(scope="module")
def printed(tmp_path_factory) -> tuple[str, Path]:
    out = tmp_path_factory.mktemp("terminal")
    cmd = [sys.executable, "-m", "xmsem.train", *TINY, "name=term", f"paths.output_dir={out}"]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "WANDB_MODE": "disabled"}
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    run_dir = next((out / "runs" / "term").iterdir())
    return proc.stdout + proc.stderr, run_dir


def test_one_line_per_epoch_with_eta(printed):
    text, run_dir = printed
    epochs = [m for line in text.splitlines() if (m := EPOCH.search(line))]
    assert [m[1] for m in epochs] == ["1", "2"]
    assert epochs[0][4].startswith("ETA") and epochs[1][4] == "done"
    # the printed numbers are the logged ones
    val = json.loads((run_dir / "status.json").read_text())["results"]["val/pgnn/best_acc"]
    assert max(float(m[3]) for m in epochs) == pytest.approx(val, abs=5e-4)


def test_no_doubled_or_irrelevant_lines(printed):
    text, _ = printed
    lines = [line.split("] ", 1)[-1] for line in text.splitlines() if line.strip()]
    for a, b in zip(lines, lines[1:], strict=False):
        assert a != b, f"printed twice: {a}"
    for noise in ("GPU available", "TPU available", "Tip:", "LeafSpec", "max_epochs=2` reached"):
        assert noise not in text


def test_run_ends_with_the_summary_table(printed):
    text, run_dir = printed
    results = json.loads((run_dir / "status.json").read_text())["results"]
    tail = text[text.index("run finished:") :]
    row = re.search(r"^\s+pgnn\s+(\d\.\d{3})\s+(\d\.\d{3}) \(epoch (\d)\)$", tail, re.M)
    assert float(row[1]) == pytest.approx(results["test/pgnn/acc"], abs=5e-4)
    assert float(row[2]) == pytest.approx(results["val/pgnn/best_acc"], abs=5e-4)
    cka = next(float(r["value"]) for r in read_rows(run_dir) if r["metric"] == "linear_cka"
               and r["epoch"] == "2" and r["layer_a"] == r["layer_b"] == "h2")  # fmt: skip
    pair = re.search(r"^\s+pgnn\s+mlp\s+(\d\.\d{3})\s+(\d\.\d{3})\s+(-?\d\.\d{3})$", tail, re.M)
    assert float(pair[1]) == pytest.approx(cka, abs=5e-4)
    assert f"{run_dir}/metrics/alignment.csv" in tail
    assert f"next: python -m xmsem.analyze {run_dir.parent}" in tail


def test_summary_pools_copies_and_fills_symmetric_metrics():
    rows = [
        {"epoch": "3", "member_a": a, "member_b": b, "layer_a": la, "layer_b": la,
         "metric": m, "value": str(v)}
        for a, b, la, m, v in [
            ("pgnn.0", "mlp.0", "h2", "linear_cka", 0.5), ("pgnn.1", "mlp.1", "h2", "linear_cka", 0.7),
            ("pgnn.0", "mlp.0", "h1", "linear_cka", 0.9),  # not the deepest layer: left out
            ("pgnn.0", "mlp.0", "h2", "transfer_ratio", 0.8),
            ("mlp.0", "pgnn.0", "h2", "transfer_ratio", 0.6),
        ]
    ]  # fmt: skip
    rows.append(dict(rows[0], epoch="1", value="0.1"))  # an earlier snapshot: left out
    text = run_summary({"test/pgnn.0/acc": 0.9}, rows, Path("/r/x"), Path("/r"))
    assert re.search(r"pgnn\s+mlp\s+0\.600 \[0\.500-0\.700\]\s+0\.800\s+–", text)
    assert re.search(r"mlp\s+pgnn\s+0\.600 \[0\.500-0\.700\]\s+0\.600\s+–", text)
    assert "epoch 3, layer h2" in text
    assert per_model({"pgnn.0": 0.5, "pgnn.1": 0.7, "mlp": 0.25}) == (
        "pgnn 0.600 [0.500-0.700] x2 mlp 0.250"
    )


def test_sweep_clock_eta_from_throughput():
    now = [100.0]
    clock = SweepClock(5, clock=lambda: now[0])
    assert clock.line(0, "seed=0") == "job 1/5: seed=0 | elapsed 0s | ETA ?"
    now[0] = 130.0
    clock.done()
    clock.done()  # 2 jobs in 30 s: 15 s each, 3 left
    assert clock.line(2, "seed=2") == "job 3/5: seed=2 | elapsed 30s | ETA 45s"
    assert duration(3725) == "1h02m" and duration(185) == "3m05s"


def test_count_jobs_combines_declared_and_command_line_sweeps():
    cfg = OmegaConf.create({"hydra": {
        "sweeper": {"params": {"seed": "range(0,5)", "model.pgnn.shaping": "spectral,none"}},
        "overrides": {"task": ["data=fmnist,cifar10", "seed=0,1"]},
    }})  # fmt: skip
    assert count_jobs(cfg) == 2 * 2 * 2  # the command line's seed=0,1 wins over range(0,5)
