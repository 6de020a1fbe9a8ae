"""report.md: a pair of differently named layers (a CNN's fc1 against an MLP's h3) is one row of
the same-seed table, whichever model's side a number was measured from."""

from __future__ import annotations

from xmsem.analysis.report import _dataset_sections, _Index, swap_layers


def _row(arch, layer, metric, mean, epoch=2):
    return {"dataset": "d", "arch": arch, "epoch": epoch, "layer": layer, "metric": metric,
            "mean": mean, "std": 0.01, "ci_low": mean, "ci_high": mean, "n": 3,
            "source": "live"}  # fmt: skip


def test_one_row_per_pair_of_layers() -> None:
    assert swap_layers("fc1~h3") == "h3~fc1" and swap_layers("h2") == "h2"
    summary = [
        _row("cnn~mlp", "fc1~h3", "linear_cka", 0.61),
        _row("cnn~mlp", "fc1~h3", "transfer_ratio", 0.93),
        _row("mlp~cnn", "h3~fc1", "transfer_ratio", 0.77),
    ]
    lines = _dataset_sections(_Index(summary), "d", {"cnn": "cnn", "mlp": "mlp"}, 10)
    rows = [line for line in lines if line.startswith("| 2 |")]
    same_seed = [line for line in rows if "0.930" in line or "0.770" in line]
    assert len(same_seed) == 1, lines
    (row,) = same_seed
    assert "| fc1~h3 |" in row and "0.610" in row and "0.930" in row and "0.770" in row
    assert not any("h3~fc1" in line for line in rows)
