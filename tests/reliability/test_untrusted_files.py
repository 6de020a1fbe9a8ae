"""Issue 17, break 4: at 701789c ``reps/probe.pt`` and checkpoints read by ``xmsem.compare`` were
loaded with ``weights_only=False``, so a planted ``__reduce__`` payload ran (exit 0)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from tests.reliability._runs import train
from xmsem.runs.safeload import UnsafeFile, load_plain
from xmsem.snapshots import SnapshotStore


class Payload:
    """Pickles as ``os.mkdir(marker)``: loading it with weights_only=False creates the folder."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return (os.mkdir, (self.marker,))


def test_planted_probe_file_is_refused_in_one_line(tmp_path: Path) -> None:
    marker = tmp_path / "payload_ran"
    store = SnapshotStore(tmp_path / "run")
    store.root.mkdir(parents=True)
    torch.save({"indices": torch.arange(3), "meta": Payload(marker)}, store.root / "probe.pt")
    with pytest.raises(UnsafeFile) as err:
        store.load_probe()
    assert not marker.exists()
    assert "\n" not in str(err.value) and "probe.pt" in str(err.value)
    assert "os.mkdir" in str(err.value) or "posix.mkdir" in str(err.value)


def test_plain_files_still_load(tmp_path: Path) -> None:
    payload = {"indices": torch.arange(3), "meta": {"dataset": "synthetic", "n_fit": 2}, "z": None}
    torch.save(payload, tmp_path / "ok.pt")
    loaded = load_plain(tmp_path / "ok.pt")
    assert torch.equal(loaded["indices"], torch.arange(3)) and loaded["meta"]["n_fit"] == 2


def test_planted_checkpoint_is_refused_by_compare_and_by_resume(tmp_path: Path, capsys) -> None:
    from xmsem.compare import main
    from xmsem.runs.checkpoints import choose_checkpoint

    run_dir = tmp_path / "run"
    train(run_dir, [])
    ckpt = run_dir / "checkpoints" / "last.ckpt"
    good = torch.load(ckpt, map_location="cpu", weights_only=True)  # Lightning's own: plain
    marker = tmp_path / "payload_ran"
    torch.save({**good, "evil": Payload(marker)}, ckpt)

    code = main([str(run_dir), str(run_dir), "--out", str(tmp_path / "cmp")])
    err = capsys.readouterr().err.strip()
    assert code == 2 and not marker.exists()
    assert "\n" not in err and "last.ckpt: refused to load" in err
    # a rerun does not resume from it either: set aside like a corrupt file, the next one used
    stamp = good["xmsem_run"]
    chosen = choose_checkpoint(ckpt.parent, stamp["fingerprint"], stamp["config"])
    assert not marker.exists() and chosen is not None and chosen.name != "last.ckpt"
    assert (ckpt.parent / "last.ckpt.corrupt").is_file()


def test_analyze_stops_at_a_planted_probe_file_in_one_line(tmp_path: Path, capsys) -> None:
    """The fault matrix found analyze leaving such a run out silently (exit 0, a row of
    report.md): the payload did not run, but the user was not told on the terminal."""
    from xmsem.analysis.synthetic import write_sweep
    from xmsem.analyze import main

    sweep = write_sweep(tmp_path / "sweep", range(2))
    probe = sweep / "seed=1" / "reps" / "probe.pt"
    marker = tmp_path / "payload_ran"
    data = torch.load(probe, map_location="cpu", weights_only=True)
    torch.save({**data, "meta": Payload(marker)}, probe)
    code = main([str(sweep), "--no-figures", "--bootstrap", "20", "--subspace-k", "4", "-q"])
    err = capsys.readouterr().err.strip()
    assert not marker.exists()
    assert code == 2 and "\n" not in err
    assert f"{probe}: refused to load" in err
