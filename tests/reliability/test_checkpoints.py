"""Breaks 2-3: a truncated last.ckpt must not crash every rerun; the newest intact checkpoint is
used (or the run starts over) with one warning; checkpoints are written atomically in place."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import torch

from tests.reliability._runs import status, train
from xmsem.runs.checkpoints import AtomicCheckpointIO


def _truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 3])


def test_truncated_last_resumes_from_previous_intact(tmp_path: Path, monkeypatch, caplog) -> None:
    run_dir = tmp_path / "run"
    train(run_dir, [], kill_at=1, monkeypatch=monkeypatch)  # 1 epoch checkpointed, then killed
    ckpts = run_dir / "checkpoints"
    assert sorted(p.name for p in ckpts.iterdir()) == ["epoch001.ckpt", "last.ckpt"]
    _truncate(ckpts / "last.ckpt")
    with caplog.at_level(logging.WARNING, logger="xmsem.runs"):
        resumed = train(run_dir, [])
    warnings = [r.getMessage() for r in caplog.records if "unreadable" in r.getMessage()]
    assert len(warnings) == 1 and "resuming from epoch001.ckpt" in warnings[0]
    assert status(run_dir)["resumed_from"].endswith("epoch001.ckpt")
    assert resumed == train(tmp_path / "fresh", [])  # the same numbers as an unbroken run
    assert (ckpts / "last.ckpt.corrupt").is_file()  # kept for inspection, never tried again


def test_no_intact_checkpoint_starts_over(tmp_path: Path, monkeypatch, caplog) -> None:
    run_dir = tmp_path / "run"
    train(run_dir, [], kill_at=1, monkeypatch=monkeypatch)
    for path in (run_dir / "checkpoints").glob("*.ckpt"):
        _truncate(path)
    with caplog.at_level(logging.WARNING, logger="xmsem.runs"):
        result = train(run_dir, [])
    assert any("starting over" in r.getMessage() for r in caplog.records)
    assert status(run_dir)["resumed_from"] is None
    assert result == train(tmp_path / "fresh", [])


def test_atomic_checkpoint_io_writes_in_place_with_umask(tmp_path: Path) -> None:
    target = tmp_path / "ckpts" / "last.ckpt"
    old = os.umask(0o027)
    try:
        AtomicCheckpointIO().save_checkpoint({"state_dict": {"w": torch.arange(3.0)}}, target)
    finally:
        os.umask(old)
    assert torch.load(target, weights_only=True)["state_dict"]["w"].tolist() == [0.0, 1.0, 2.0]
    assert target.stat().st_mode & 0o777 == 0o640  # 0666 & ~0027 (mkstemp alone gives 0600)
    assert [p.name for p in target.parent.iterdir()] == ["last.ckpt"]  # no temp left


def test_atomic_write_failure_keeps_old_file_and_names_path(tmp_path: Path) -> None:
    from xmsem.runs.atomic import atomic_torch_save

    target = tmp_path / "a.pt"
    atomic_torch_save({"v": 1}, target)

    class Boom:
        def __reduce__(self):
            raise OSError(28, "No space left on device")

    try:
        atomic_torch_save({"v": Boom()}, target)
    except OSError as err:
        assert err.errno == 28 and err.filename == str(target)
    else:
        raise AssertionError("no error")
    assert torch.load(target, weights_only=True) == {"v": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["a.pt"]
