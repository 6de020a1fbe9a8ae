"""``python -m xmsem.analyze --sanity``: the layer-identification test (Kornblith et al. 2019)
per measure, checked on constructed sweeps with known answers and against a direct
recomputation."""

from __future__ import annotations

import csv
import itertools
import zlib

import pytest
import torch

from xmsem.alignment import METRICS
from xmsem.analysis.sanity import layer_identification
from xmsem.analysis.synthetic import write_sweep
from xmsem.analyze import main

N, WIDTH = 96, 8


def _orthogonal(seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    q, _ = torch.linalg.qr(torch.randn(WIDTH, WIDTH, generator=g, dtype=torch.float64))
    return q


def _base(layer: str) -> torch.Tensor:
    g = torch.Generator().manual_seed(int(layer[1:]))
    return torch.randn(N, WIDTH, generator=g, dtype=torch.float64) * torch.logspace(0, 1, WIDTH)


def rotated(seed, member, epoch, layer, n, width):
    """Every model's layer is the same per-layer representation, rotated per model."""
    return _base(layer) @ _orthogonal(1000 * seed + zlib.crc32(member.encode()) % 97)


def test_rotation_invariant_measures_identify_every_layer(tmp_path):
    sweep = write_sweep(tmp_path / "s", range(3), n=N, widths=(WIDTH,) * 3, reps=rotated,
                        dtype="float64")  # fmt: skip
    names = ["linear_cka", "mutual_knn", "rsa", "procrustes", "magnitude_diff"]
    rows = layer_identification(sweep, names)
    assert {r.metric for r in rows} == set(names)
    for r in rows:
        assert r.models == 3 and r.counted == 3 * 2 * 3  # ordered pairs x layers
        assert r.accuracy == 1.0, r.metric


def test_accuracy_equals_a_direct_recomputation(tmp_path):
    sweep = write_sweep(tmp_path / "s", range(2), n=N, widths=(WIDTH,) * 3, dtype="float64")
    rows = layer_identification(sweep, ["linear_cka", "svcca"], slow_max_n=N)
    from xmsem.analysis.discovery import discover

    runs = discover(sweep)
    for r in rows:
        models = [(run, m) for run in runs for m in run.models if run.arch(m) == r.arch]
        reps = [{la: run.store.load(r.epoch, m, la, torch.float64) for la in ("h1", "h2", "h3")}
                for run, m in models]  # fmt: skip
        passed = counted = 0
        for a, b in itertools.permutations(reps, 2):
            for la in a:
                vals = {lb: float(METRICS[r.metric].fn(a[la], b[lb])) for lb in b}
                counted += 1
                passed += int(vals[la] == max(vals.values()))
        assert (r.passed, r.counted) == (passed, counted)


def test_cli_writes_table_and_figure_and_refuses_bad_input(tmp_path, capsys):
    sweep = write_sweep(tmp_path / "s", range(2), n=N, widths=(WIDTH,) * 2, dtype="float64")
    out = tmp_path / "out"
    from xmsem.analysis.layout import checking_layout

    with checking_layout() as found:
        assert (
            main([str(sweep), "--sanity", "--metrics", "linear_cka", "cca_r2", "--out", str(out)])
            == 0
        )
    assert found == {out / "sanity.png": []}  # the figure passes the layout check
    with open(out / "sanity.csv") as f:
        table = list(csv.DictReader(f))
    assert {r["metric"] for r in table} == {"linear_cka", "cca_r2"}
    assert (out / "sanity.png").exists() and "Layer identification" in (
        out / "sanity.md"
    ).read_text()
    assert main([str(sweep), "--sanity", "--metrics", "stitching", "--out", str(out)]) == 2
    assert main([str(sweep), "--sanity", "--metrics", "nope", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("xmsem.analyze: unknown metric 'nope'; valid:")
    with pytest.raises(SystemExit):
        main([str(sweep), "--sanity", "--bad-flag"])
