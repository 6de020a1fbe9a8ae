"""Issue 17, breaks 1-2: a refused or skipped rerun changes no byte of the run folder (at 701789c
Hydra rewrote ``.hydra/`` first, so the folder claimed a config that was never trained, and
compare read it); raising ``trainer.max_epochs`` on a completed run continues it to the same
numbers as a run trained straight to that count (at 701789c: "already completed", exit 0)."""

from __future__ import annotations

from pathlib import Path

import pytest
from omegaconf import OmegaConf

from tests.reliability._folder import cli, folder_digest
from tests.reliability._runs import status, train
from xmsem.runs.fingerprint import RunConflict
from xmsem.snapshots.table import read_rows


@pytest.mark.slow  # three CLI runs: ~45 s on a loaded 2-core machine
def test_refused_and_skipped_reruns_change_no_byte(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    proc = cli([f"hydra.run.dir={run_dir}", "callbacks=none"])
    assert proc.returncode == 0, proc.stderr[-2000:]
    before = folder_digest(run_dir)
    assert {".hydra/config.yaml", ".hydra/overrides.yaml", "train.log", "status.json"} <= set(
        before
    )
    gamma = OmegaConf.load(run_dir / ".hydra" / "config.yaml").model.pgnn.gamma

    refused = cli([f"hydra.run.dir={run_dir}", "callbacks=none", "model.pgnn.gamma=0.5"])
    assert refused.returncode == 2
    (line,) = [s for s in refused.stderr.splitlines() if s.strip()]
    assert "another config" in line and "model.pgnn.gamma" in line
    skipped = cli([f"hydra.run.dir={run_dir}", "callbacks=none"])
    assert skipped.returncode == 0 and "already completed" in skipped.stdout + skipped.stderr

    assert folder_digest(run_dir) == before  # every byte, .hydra/ and train.log included
    assert OmegaConf.load(run_dir / ".hydra" / "config.yaml").model.pgnn.gamma == gamma != 0.5


def test_in_process_refusals_leave_the_folder_as_it_was(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    train(run_dir, [])
    before = folder_digest(run_dir)
    assert ".hydra/config.yaml" in before  # written by the attempt that trained
    with pytest.raises(RunConflict):
        train(run_dir, ["ensemble=2"])
    with pytest.raises(RunConflict, match="asks for fewer") as err:
        train(run_dir, ["trainer.max_epochs=1"])
    assert "\n" not in str(err.value)
    train(run_dir, [])  # skipped
    assert folder_digest(run_dir) == before


def test_lock_of_a_refused_attempt_on_a_new_folder_leaves_nothing(tmp_path: Path) -> None:
    from xmsem.runs.lock import run_lock

    run_dir = tmp_path / "new"
    with run_lock(run_dir):
        assert (run_dir / ".lock").is_file()
    assert not run_dir.exists()  # unclaimed: the lock file and the folder it created are gone


def test_more_epochs_continue_to_the_same_numbers_fast(tmp_path: Path) -> None:
    run_dir, straight = tmp_path / "run", tmp_path / "straight"
    train(run_dir, ["trainer.max_epochs=1"])
    extended = train(run_dir, ["trainer.max_epochs=2"])
    assert extended == train(straight, ["trainer.max_epochs=2"])
    assert "test/mlp/loss" in extended
    st = status(run_dir)
    assert (st["epochs_trained"], st["attempts"], st["max_epochs"]) == (2, 2, 2)


@pytest.mark.slow  # 14 tiny epochs with snapshots: ~60 s on a loaded 2-core machine
def test_more_epochs_continue_to_the_numbers_of_a_straight_run(tmp_path: Path) -> None:
    reps = ["callbacks=default", "callbacks.representations.metrics=[linear_cka]",
            "callbacks.representations.drift=false", "callbacks.representations.heatmaps=false"]  # fmt: skip
    run_dir, straight = tmp_path / "run", tmp_path / "straight"
    train(run_dir, [*reps, "trainer.max_epochs=2"])
    assert status(run_dir)["epochs_trained"] == 2
    rows_before = len(read_rows(run_dir))
    extended = train(run_dir, [*reps, "trainer.max_epochs=6"])
    reference = train(straight, [*reps, "trainer.max_epochs=6"])

    st = status(run_dir)
    assert st["state"] == "completed" and st["epochs_trained"] == 6 and st["attempts"] == 2
    assert st["resumed_from"].endswith("last.ckpt")
    assert extended == reference  # bit for bit on CPU: the same weights, the same test numbers
    key = ("epoch", "member_a", "member_b", "layer_a", "layer_b", "metric")
    ours = {tuple(r[k] for k in key): r["value"] for r in read_rows(run_dir)}
    theirs = {tuple(r[k] for k in key): r["value"] for r in read_rows(straight)}
    assert ours == theirs and len(ours) > rows_before  # epoch 5's snapshot rows were appended
    assert {k[0] for k in ours} == {"0", "1", "2", "5"}


def test_sweep_counts_refused_jobs_and_exits_1(tmp_path: Path, capsys) -> None:
    """At 701789c a sweep whose jobs were all refused printed "3 completed" and exited 0."""
    from hydra.core.utils import JobReturn, JobStatus

    from xmsem.runs.status import RunStatus
    from xmsem.runs.sweep_summary import Refused, SweepSummary

    for name in ("seed=0", "seed=1", "seed=2"):
        RunStatus(tmp_path / name).write("completed", results={})
    summary = SweepSummary()
    summary.on_multirun_start(None)
    for name in ("seed=0", "seed=1"):
        ret = JobReturn(status=JobStatus.COMPLETED)
        ret.return_value = Refused(str(tmp_path / name), f"{name} holds a run of another config")
        summary.on_job_end(None, ret)
    with pytest.raises(SystemExit) as exit_:
        summary.summarise(tmp_path)
    out = capsys.readouterr().out
    assert exit_.value.code == 1
    assert "1 completed, 2 refused" in out
    assert "refused: seed=0: seed=0 holds a run of another config" in out
