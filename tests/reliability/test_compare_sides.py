"""Issue 17, break 6: at 701789c compare measured two runs trained on different ``data.seed`` on
A's data and said only "data: synthetic"; a run in progress was read from its mid-training
``last.ckpt`` without naming its state or epoch."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.reliability._runs import train
from xmsem.compare import main


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> tuple[Path, Path]:
    base = tmp_path_factory.mktemp("cmp")
    a, b = base / "a", base / "b"
    train(a, ["trainer.max_epochs=1"])
    train(b, ["trainer.max_epochs=1", "data.seed=99"])
    return a, b


def test_different_data_is_refused_in_one_line(runs, tmp_path: Path, capsys) -> None:
    a, b = runs
    code = main([str(a), str(b), "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err.strip()
    assert code == 2 and "\n" not in err
    assert "different data (seed: 1234 -> 99)" in err and "--allow-different-data" in err
    assert not (tmp_path / "out").exists()


def test_each_side_names_state_epochs_and_data(runs, tmp_path: Path, capsys) -> None:
    a, b = runs
    status = json.loads((b / "status.json").read_text())
    (b / "status.json").write_text(json.dumps({**status, "state": "running", "max_epochs": 5}))
    try:
        code = main([str(a), str(b), "--out", str(tmp_path / "out"), "--allow-different-data"])
    finally:
        (b / "status.json").write_text(json.dumps(status))
    captured = capsys.readouterr()
    assert code == 0
    assert "A: completed, 1 of 1 epochs (last.ckpt); data synthetic (" in captured.out
    assert "seed=1234" in captured.out and "seed=99" in captured.out
    assert "B: running, 1 of 5 epochs (last.ckpt) - NOT a finished run" in captured.out
    assert "warning: A and B were trained on different data" in captured.err
    assert "warning: B is not a completed run" in captured.err
    report = (tmp_path / "out" / "report.md").read_text()
    assert "completed, 1 of 1 epochs" in report and "running, 1 of 5 epochs" in report
    assert "**warning**: A and B were trained on different data" in report


def test_runs_of_different_input_sizes_are_one_line(runs, tmp_path: Path, capsys) -> None:
    """At 701789c: 23 lines of size mismatch; then one line blaming B's checkpoint for not
    fitting its own config (it fits; the probe data has another input size)."""
    a, _ = runs
    narrow = tmp_path / "narrow"
    train(narrow, ["trainer.max_epochs=1", "data.input_dim=12"])
    code = main([str(a), str(narrow), "--out", str(tmp_path / "o"), "--allow-different-data"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and "\n" not in err and "Traceback" not in err
    assert (
        f"B ({narrow}) was trained with data.input_dim=12; the probe data has input_dim=16" in err
    )
