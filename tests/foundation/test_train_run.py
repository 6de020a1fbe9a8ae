"""Short real runs (real Hydra composition, Lightning, CSV logger, checkpoints) on tiny synthetic data."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import torch

from tests.conftest import compose_cfg
from xmsem.lit.cohort import build_members, member_seed
from xmsem.models import build_model
from xmsem.train import run


def train(tmp_path: Path, overrides: list[str], name: str = "run") -> tuple[dict, Path]:
    run_dir = tmp_path / name
    # CPU: these tests compare numbers bit for bit, which only the CPU guarantees
    cfg = compose_cfg([*overrides, "callbacks=none", "trainer.accelerator=cpu"], run_dir)
    return run(cfg, run_dir), run_dir


def logged_rows(run_dir: Path) -> list[dict[str, str]]:
    rows: list[dict[str, str]] = []
    for path in sorted((run_dir / "csv").glob("version_*/metrics.csv")):
        with path.open() as handle:
            rows += list(csv.DictReader(handle))
    return rows


def test_short_run_writes_named_metrics_per_member(tmp_path: Path, tiny_overrides) -> None:
    results, run_dir = train(tmp_path, tiny_overrides)
    rows = logged_rows(run_dir)
    columns = set(rows[0])
    for member in ("pgnn", "mlp"):
        for key in ("train/{m}/loss", "train/{m}/acc", "val/{m}/acc", "val/{m}/loss", "test/{m}/acc",
                    "val/{m}/best_epoch"):  # fmt: skip
            assert key.format(m=member) in columns
        epochs = [r for r in rows if r[f"val/{member}/acc"]]
        assert len(epochs) == 2  # one validation row per epoch
        acc = float(next(r for r in rows if r[f"test/{member}/acc"])[f"test/{member}/acc"])
        assert 0.0 <= acc <= 1.0 and acc == results[f"test/{member}/acc"]
        assert acc > 1 / 4 + 0.1  # better than chance (4 classes) after two epochs
    status = json.loads((run_dir / "status.json").read_text())
    assert status["state"] == "completed"
    assert set(status["parameters"]) == {"pgnn", "mlp"}
    assert (
        status["packages"]["torch"] == torch.__version__.split("+")[0]
        or status["packages"]["torch"]
    )
    assert (run_dir / "checkpoints" / "last.ckpt").is_file()


def test_same_seed_same_numbers_different_seed_differs(tmp_path: Path, tiny_overrides) -> None:
    a, _ = train(tmp_path, [*tiny_overrides, "seed=7"], "a")
    b, _ = train(tmp_path, [*tiny_overrides, "seed=7"], "b")
    c, _ = train(tmp_path, [*tiny_overrides, "seed=8"], "c")
    assert a == b
    assert a["test/mlp/loss"] != c["test/mlp/loss"] and a["test/pgnn/loss"] != c["test/pgnn/loss"]


def test_seed_zero_is_a_seed(tmp_path: Path, tiny_overrides) -> None:
    torch.manual_seed(12345)  # disturb the global RNG between the two runs
    a, _ = train(tmp_path, [*tiny_overrides, "seed=0"], "a")
    torch.rand(1000)
    b, _ = train(tmp_path, [*tiny_overrides, "seed=0"], "b")
    assert a == b


def test_completed_run_is_skipped_on_rerun(tmp_path: Path, tiny_overrides) -> None:
    first, run_dir = train(tmp_path, tiny_overrides)
    mtime = (run_dir / "checkpoints" / "last.ckpt").stat().st_mtime_ns
    again, _ = train(tmp_path, tiny_overrides)
    assert again == first
    assert (run_dir / "checkpoints" / "last.ckpt").stat().st_mtime_ns == mtime
    assert json.loads((run_dir / "status.json").read_text())["attempts"] == 1


def test_member_init_depends_only_on_run_seed_and_name() -> None:
    spec = {"arch": "mlp", "hidden": [8, 8]}

    def build(s):
        return build_model(s, input_dim=5, num_classes=3)

    alone = build_members({"mlp": spec}, 0, build)
    pair = build_members({"pgnn": {"arch": "pgnn", "hidden": [8, 8]}, "mlp": spec}, 0, build)
    other = build_members({"mlp": spec}, 1, build)
    for p, q in zip(alone["mlp"].parameters(), pair["mlp"].parameters(), strict=True):
        assert torch.equal(p, q)
    assert not torch.equal(next(alone["mlp"].parameters()), next(other["mlp"].parameters()))
    assert member_seed(0, "mlp") != member_seed(0, "pgnn") != member_seed(1, "pgnn")
