"""RepresentationCallback on a real (tiny) synthetic run: files, rows, values, logged scalars."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
import torch

from tests.conftest import compose_cfg
from xmsem.alignment import linear_cka
from xmsem.snapshots import MeasureSettings, SnapshotStore, pair_rows
from xmsem.train import run

EPOCHS = [0, 1, 3]
LAYERS = ["h1", "h2"]
PAIR_METRICS = {"linear_cka", "linear_cka_debiased", "rbf_cka", "subspace_overlap",
                "transfer_acc", "transfer_ratio"}  # fmt: skip
CKA_LIKE = {"linear_cka", "rbf_cka", "subspace_overlap", "layer_cka"}


@pytest.fixture(scope="module")
def snapshot_run(tmp_path_factory) -> Path:
    from tests.conftest import TINY

    run_dir = tmp_path_factory.mktemp("rep") / "run"
    cfg = compose_cfg(
        [*TINY, "trainer.max_epochs=3", "callbacks.representations.epochs=[0,1,3]"], run_dir
    )
    run(cfg, run_dir)
    return run_dir


def alignment_rows(run_dir: Path) -> list[dict[str, str]]:
    with (run_dir / "metrics" / "alignment.csv").open() as handle:
        return list(csv.DictReader(handle))


def test_reps_saved_for_every_member_layer_epoch(snapshot_run: Path) -> None:
    store = SnapshotStore(snapshot_run)
    assert store.epochs() == EPOCHS
    probe = store.load_probe()
    n = len(probe["indices"])
    assert n == 240 and len(probe["labels"]) == n and probe["z"].shape == (n, 4)  # whole test split
    assert probe["meta"]["n_fit"] == n // 2
    for epoch in EPOCHS:
        manifest = store.manifest(epoch)
        assert manifest["members"] == {"pgnn": LAYERS, "mlp": LAYERS}
        for member in ("pgnn", "mlp"):
            for layer in LAYERS:
                reps = store.load(epoch, member, layer)
                assert reps.shape == (n, 16) and torch.isfinite(reps).all()
    # training moved the representations
    assert not torch.equal(store.load(0, "mlp", "h2"), store.load(3, "mlp", "h2"))


def test_alignment_csv_has_every_pair_layer_metric_epoch(snapshot_run: Path) -> None:
    rows = alignment_rows(snapshot_run)
    assert set(rows[0]) == {
        "epoch",
        "member_a",
        "member_b",
        "layer_a",
        "layer_b",
        "metric",
        "value",
    }
    pairs = {(int(r["epoch"]), r["layer_a"], r["metric"]) for r in rows
             if {r["member_a"], r["member_b"]} == {"pgnn", "mlp"} and r["layer_a"] == r["layer_b"]}  # fmt: skip
    for epoch in EPOCHS:
        for layer in LAYERS:
            for metric in PAIR_METRICS:
                assert (epoch, layer, metric) in pairs, (epoch, layer, metric)
        for metric in ("stitch_acc", "stitch_penalty", "stitch_gap"):
            assert (epoch, "h2", metric) in pairs  # primary (penultimate) layer
        for member in ("pgnn", "mlp"):
            own = {(r["layer_a"], r["layer_b"], r["metric"]) for r in rows
                   if int(r["epoch"]) == epoch and r["member_a"] == r["member_b"] == member}  # fmt: skip
            for layer in LAYERS:
                assert {(layer, layer, "probe_acc"), (layer, layer, "drift"),
                        (layer, layer, "latent_r2"), (layer, layer, "layer_cka")} <= own  # fmt: skip
            assert ("h1", "h2", "layer_cka") in own


def test_values_are_in_range_and_self_alignment_is_one(snapshot_run: Path) -> None:
    rows = alignment_rows(snapshot_run)
    for r in rows:
        value = float(r["value"])
        if r["metric"] in CKA_LIKE:
            assert 0.0 <= value <= 1.0 + 1e-12, r
        if r["metric"] == "layer_cka" and r["layer_a"] == r["layer_b"]:
            assert value == pytest.approx(1.0, abs=1e-12)
        if r["metric"] == "drift" and r["epoch"] == "0":
            assert value == pytest.approx(0.0, abs=1e-12)  # first snapshot: no change yet
        if r["metric"] == "drift" and r["epoch"] == "3":
            assert 0.0 < value <= 1.0  # training changed every layer
        if r["metric"] in {"probe_acc", "transfer_acc", "stitch_acc"}:
            assert 0.0 <= value <= 1.0
    # a member compared with itself, through the same code path as pairs of members
    store = SnapshotStore(snapshot_run)
    reps = store.load_epoch(3)["pgnn"]
    labels = store.load_probe()["labels"]
    s = MeasureSettings(
        metrics=("linear_cka", "linear_cka_debiased", "subspace_overlap"),
        subspace_k=4,
        controls=False,  # the chance rows are not self-alignment
    )
    same = pair_rows("pgnn", "pgnn", reps, reps, [(la, la) for la in LAYERS], labels, 120, s)
    assert all(r["value"] == pytest.approx(1.0, abs=1e-10) for r in same)
    # live numbers are measured on the values as stored: a recomputation from the files agrees
    mlp = store.load_epoch(3)["mlp"]
    logged = next(float(r["value"]) for r in rows if r["epoch"] == "3" and r["metric"] == "linear_cka"
                  and r["layer_a"] == "h2" and r["member_a"] == "pgnn")  # fmt: skip
    assert logged == pytest.approx(float(linear_cka(reps["h2"], mlp["h2"])), abs=1e-12)


def test_scalars_reach_the_csv_logger(snapshot_run: Path) -> None:
    columns: set[str] = set()
    for path in (snapshot_run / "csv").glob("version_*/metrics.csv"):
        with path.open() as handle:
            columns |= set(next(csv.reader(handle)))
    for name in ("align/linear_cka/pgnn~mlp/h1", "align/rbf_cka/pgnn~mlp/h2",
                 "align/transfer_ratio/mlp~pgnn/h2", "member/probe_acc/mlp/h1",
                 "member/drift/pgnn/h2", "time/representations_seconds"):  # fmt: skip
        assert name in columns, name


def test_cohort_hidden_is_the_same_in_one_batch_or_many(tmp_path: Path) -> None:
    from xmsem.train import build_cohort

    cfg = compose_cfg([], tmp_path)
    cohort = build_cohort(cfg, 12, 4)
    x = torch.randn(50, 12, generator=torch.Generator().manual_seed(0))
    for name in cohort.member_names:
        whole, parts = cohort.hidden(name, x), cohort.hidden(name, x, batch_size=7)
        assert list(whole) == list(parts)
        for layer in whole:
            torch.testing.assert_close(parts[layer], whole[layer], rtol=0, atol=1e-6)
