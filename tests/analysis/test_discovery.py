"""Architecture keys and merged CSV logs."""

from __future__ import annotations

from xmsem.analysis.discovery import architecture_key, read_metrics_csv


def test_architecture_key_strips_seed_data_and_model_choice():
    assert architecture_key("pgnn", ["seed=2"]) == "pgnn"
    assert architecture_key("pgnn", ["model.pgnn.shaping=none", "seed=2"]) == (
        "pgnn[model.pgnn.shaping=none]"
    )
    assert architecture_key("mlp", ["data=fmnist", "model=mlp", "seed=1"]) == "mlp"
    assert architecture_key("mlp", ["+experiment=x", "hydra.launcher.n_jobs=2", "seed=0"]) == "mlp"


def test_metrics_csv_versions_merge_later_wins(tmp_path):
    for version, rows in ((0, "0,10,0.5\n1,20,0.6\n"), (1, "1,20,0.65\n2,30,0.7\n")):
        path = tmp_path / "csv" / f"version_{version}" / "metrics.csv"
        path.parent.mkdir(parents=True)
        path.write_text("epoch,step,val/m/acc\n" + rows)
    merged = read_metrics_csv(tmp_path)
    # logs without epochs_trained (Lightning's 0-based epoch): keyed by epochs trained
    assert {e: v["val/m/acc"] for e, v in merged.items()} == {1: 0.5, 2: 0.65, 3: 0.7}
