"""python -m xmsem.compare: alignment of two models without training."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from tests.conftest import compose_cfg
from xmsem.compare import CompareError, compare
from xmsem.train import run

ROOT = Path(__file__).resolve().parents[2]


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def _linear_cka(x: torch.Tensor, y: torch.Tensor) -> float:
    """Independent reference: Gram-matrix form of biased linear CKA, float64."""
    x, y = x.double(), y.double()
    h = torch.eye(len(x), dtype=torch.float64) - 1.0 / len(x)
    k, l = h @ x @ x.T @ h, h @ y @ y.T @ h
    return float((k * l).sum() / (k.norm() * l.norm()))


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory) -> tuple[Path, Path]:
    from hydra.core.global_hydra import GlobalHydra

    from tests.conftest import TINY

    base = tmp_path_factory.mktemp("runs")
    dirs = []
    for seed in (1, 2):
        run_dir = base / f"seed{seed}"
        overrides = [*TINY, "trainer.max_epochs=1", f"seed={seed}",
                     "callbacks.representations.storage_dtype=float32"]  # fmt: skip
        cfg = compose_cfg(overrides, run_dir)
        run(cfg, run_dir)
        assert (run_dir / ".hydra" / "config.yaml").is_file()  # the attempt that trained wrote it
        GlobalHydra.instance().clear()
        dirs.append(run_dir)
    return dirs[0], dirs[1]


def test_cli_compares_two_run_folders(two_runs, tmp_path) -> None:
    a, b = two_runs
    out = tmp_path / "cmp"
    proc = subprocess.run(
        [sys.executable, "-m", "xmsem.compare", str(a), str(b), "--out", str(out), "--epoch-cka"],
        capture_output=True, text=True, cwd=ROOT,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    report = (out / "report.md").read_text()
    assert "## A:pgnn vs B:mlp" in report and "## A:mlp vs B:mlp" in report
    rows = _rows(out / "alignment.csv")
    models = {r["member_a"] for r in rows} | {r["member_b"] for r in rows}
    assert models == {"A:pgnn", "A:mlp", "B:pgnn", "B:mlp"}
    # the numbers are those of the stored final snapshots (checkpoint = end of epoch 1)
    got = {(r["member_a"], r["member_b"], r["layer_a"], r["layer_b"]): float(r["value"])
           for r in rows if r["metric"] == "cross_layer_cka"}  # fmt: skip
    for la in ("h1", "h2"):
        for lb in ("h1", "h2"):
            x = torch.load(a / f"reps/epoch_001/mlp/{la}.pt")
            y = torch.load(b / f"reps/epoch_001/pgnn/{lb}.pt")
            assert got[("A:mlp", "B:pgnn", la, lb)] == pytest.approx(_linear_cka(x, y), abs=1e-6)
    assert (out / "cross_layer_cka_A_mlp~B_pgnn.png").stat().st_size > 1000
    # --epoch-cka: both runs' training dynamics beside the comparison
    dynamics = {r["model"] for r in _rows(out / "epoch_cka.csv")}
    assert dynamics == {"A:pgnn", "A:mlp", "B:pgnn", "B:mlp"}
    assert "not attempted" in report  # stitching runs at the last layers only: h1 is never
    assert "| nan" not in report
    # stitching works between runs' built-in members (both directions are measured)
    stitched = {(r["member_a"], r["member_b"]) for r in rows if r["metric"] == "stitch_acc"}
    assert ("A:mlp", "B:pgnn") in stitched and ("B:pgnn", "A:mlp") in stitched


def test_a_run_against_its_own_checkpoint_and_a_model_file(two_runs, tmp_path) -> None:
    a, _ = two_runs
    # the MLP's weights as a plain state dict, described by a model file (.yaml)
    state = torch.load(a / "checkpoints/last.ckpt", weights_only=False)["state_dict"]
    mlp = {
        k.removeprefix("members.mlp."): v for k, v in state.items() if k.startswith("members.mlp.")
    }
    torch.save(mlp, tmp_path / "mlp.pt")
    (tmp_path / "mine.yaml").write_text(
        "arch: mlp\nhidden: [16, 16]\nweights: mlp.pt\nname: mine\n"
    )
    result = compare(tmp_path / "mine.yaml", a / "checkpoints/last.ckpt", out=tmp_path / "o")
    cka = {(r["member_b"], r["layer_a"], r["layer_b"]): r["value"] for r in result.rows
           if r["metric"] == "linear_cka" and r["member_a"] == "A:mine"}  # fmt: skip
    assert cka[("B:mlp", "h1", "h1")] == pytest.approx(1.0, abs=1e-9)
    assert cka[("B:mlp", "h2", "h2")] == pytest.approx(1.0, abs=1e-9)
    ratio = [r["value"] for r in result.rows if r["metric"] == "transfer_ratio"
             and r["member_a"] == "A:mine" and r["member_b"] == "B:mlp"]  # fmt: skip
    assert ratio and all(v == pytest.approx(1.0, abs=1e-9) for v in ratio)
    assert (tmp_path / "o" / "report.md").is_file()


def test_snapshot_only_run_is_compared_without_stitching(two_runs, tmp_path) -> None:
    import shutil

    a, b = two_runs
    copy = tmp_path / "snap"
    shutil.copytree(a, copy, ignore=shutil.ignore_patterns("checkpoints"))
    result = compare(copy, b)
    assert {s["what"] for s in result.skipped} == {"stitching"}
    assert all(s["member_b"].startswith("A:") for s in result.skipped)
    assert "snapshot" in result.skipped[0]["reason"]
    same = compare(copy, a)  # the snapshot and the checkpoint it was taken with agree
    cka = [r["value"] for r in same.rows if r["metric"] == "linear_cka"
           and r["member_a"] == "A:mlp" and r["member_b"] == "B:mlp"]  # fmt: skip
    assert cka and all(v == pytest.approx(1.0, abs=1e-9) for v in cka)


def test_bad_arguments_are_one_line_errors(two_runs, tmp_path) -> None:
    a, _ = two_runs
    with pytest.raises(CompareError, match="not a run folder"):
        compare(tmp_path, a)
    with pytest.raises(CompareError, match="--data imagenet: not a known data; valid: cifar10"):
        compare(a, a, data="imagenet")
    with pytest.raises(CompareError, match="--pairs near"):
        compare(a, a, pairs="near")
    proc = subprocess.run([sys.executable, "-m", "xmsem.compare", str(a), str(tmp_path / "x")],
                          capture_output=True, text=True, cwd=ROOT)  # fmt: skip
    assert proc.returncode == 2 and proc.stderr.strip().count("\n") == 0
    assert proc.stderr.startswith("xmsem: error:")


def test_one_run_gives_its_training_dynamics(two_runs, tmp_path) -> None:
    """``python -m xmsem.compare RUN``: epoch x epoch linear CKA of every model and layer from
    the run's snapshots, equal to an independent computation, symmetric, unit diagonal."""
    import shutil

    from xmsem.analysis.layout import checking_layout
    from xmsem.compare import compare_epochs, main

    a, _ = two_runs
    out = tmp_path / "dyn"
    with checking_layout() as found:
        assert main([str(a), "--out", str(out)]) == 0
    rows = _rows(out / "epoch_cka.csv")
    assert {(r["model"], r["layer"]) for r in rows} == {
        (m, la) for m in ("pgnn", "mlp") for la in ("h1", "h2")
    }
    value = {(r["model"], r["layer"], int(r["epoch_a"]), int(r["epoch_b"])): float(r["value"])
             for r in rows}  # fmt: skip
    for (m, la, ea, eb), v in value.items():
        x = torch.load(a / f"reps/epoch_{ea:03d}/{m}/{la}.pt").double()
        y = torch.load(a / f"reps/epoch_{eb:03d}/{m}/{la}.pt").double()
        assert v == pytest.approx(_linear_cka(x, y), abs=1e-9)
        assert v == pytest.approx(value[(m, la, eb, ea)], abs=1e-12)
        if ea == eb:
            assert v == pytest.approx(1.0, abs=1e-12)
    assert {p.name for p in found} == {
        "synthetic_epoch_cka_pgnn.png",
        "synthetic_epoch_cka_mlp.png",
    }
    assert all(problems == [] for problems in found.values())
    assert (
        "### Training dynamics: epoch x epoch linear CKA" in (out / "epoch_report.md").read_text()
    )
    # a run with one snapshot has no dynamics: one line naming the run and what it holds
    one = tmp_path / "one"
    shutil.copytree(a, one)
    shutil.rmtree(one / "reps" / "epoch_000")
    with pytest.raises(
        CompareError, match="needs two complete snapshots in reps/, found 1 \\(1\\)"
    ):
        compare_epochs(one)
