"""Breaks 7, 9, 11: one process per run folder; a corrupt or wrong-shaped status.json is backed
up and rewritten; files follow the umask; stale temp files are removed when a run starts."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.reliability._runs import status, train
from xmsem.runs.lock import RunLocked, run_lock


def test_second_process_on_a_run_is_refused(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    with run_lock(run_dir):
        with pytest.raises(RunLocked, match="another process"):
            train(run_dir, [])
        # another OS process too (flock is per open file, released when the holder exits)
        code = (
            "import sys; from xmsem.runs.lock import run_lock, RunLocked\n"
            f"try:\n  run_lock({str(run_dir)!r}).__enter__(); sys.exit(0)\n"
            "except RunLocked as e:\n  print(e); sys.exit(3)"
        )
        proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
        assert proc.returncode == 3 and f"pid {os.getpid()}" in proc.stdout
    assert not (run_dir / "status.json").exists()  # the refused attempt wrote nothing
    with run_lock(run_dir):  # released
        pass


@pytest.mark.parametrize("content", ["[1, 2]", '{"state": 3', '"running"', '{"state": "odd"}'])
def test_bad_status_json_is_backed_up_and_rewritten(tmp_path: Path, content, caplog) -> None:
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "status.json").write_text(content)
    train(run_dir, [])
    assert status(run_dir)["state"] == "completed"
    (backup,) = run_dir.glob("status.json.bad-*")
    assert backup.read_text() == content
    assert any("backed up" in r.getMessage() for r in caplog.records)


def test_files_follow_umask_and_stale_temps_go(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    stale = run_dir / "checkpoints" / ".last.ckpt.k3j2.tmp"
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"half a checkpoint")
    old = os.umask(0o002)
    try:
        train(run_dir, [])
    finally:
        os.umask(old)
    assert not stale.exists()
    for name in ("status.json", "checkpoints/last.ckpt"):
        assert (run_dir / name).stat().st_mode & 0o777 == 0o664, name
    assert json.loads((run_dir / "status.json").read_text())["state"] == "completed"
