"""ReSi's grounding by prediction (``python -m xmsem.analyze --sanity``): the functional
differences against scipy/numpy, Spearman against its closed form, the pipeline against a known
answer and against a direct recomputation over the pairs, and the CLI's table and figure."""

from __future__ import annotations

import csv
import itertools
import json
import math

import numpy as np
import pytest
import torch
from scipy.spatial.distance import jensenshannon

from xmsem.alignment import METRICS
from xmsem.analysis.discovery import discover
from xmsem.analysis.grounding import disagreement, grounding, jsd, spearman
from xmsem.analysis.synthetic import write_sweep
from xmsem.analyze import main

N, WIDTH, COPIES = 80, 6, 5
W_OUT = torch.randn(WIDTH, 4, generator=torch.Generator().manual_seed(3), dtype=torch.float64)


def shifted(seed, member, epoch, layer, n, width):
    """Copy k: one shared centred representation plus 2^k times a fixed offset vector c, so its
    mean's norm is 2^k |c| and magnitude_diff(i, j) = |c| |2^i - 2^j|, distinct for every pair;
    :func:`_sweep` gives copy k the test accuracy 2^k / 100: the same order of pairs."""
    g = torch.Generator().manual_seed(7)
    base = torch.randn(n, width, generator=g, dtype=torch.float64)
    offset = torch.randn(width, generator=g, dtype=torch.float64)
    k = int(member.rsplit(".", 1)[1])
    return base - base.mean(0) + 2.0**k * offset


def logits(run, model, epoch, layer, h):
    return h @ W_OUT


def _sweep(tmp_path):
    sweep = write_sweep(tmp_path / "s", [0], members=("mlp",), ensemble=COPIES, n=N,
                        widths=(WIDTH, WIDTH), reps=shifted, dtype="float64")  # fmt: skip
    path = sweep / "seed=0" / "status.json"
    status = json.loads(path.read_text())
    for k in range(COPIES):  # accuracies whose differences are distinct for every pair
        status["results"][f"test/mlp.{k}/acc"] = 2.0**k / 100
    path.write_text(json.dumps(status))
    return sweep


def test_disagreement_and_jsd_equal_numpy_and_scipy():
    g = torch.Generator().manual_seed(0)
    a = torch.randn(50, 7, generator=g, dtype=torch.float64) * 3
    b = a + torch.randn(50, 7, generator=g, dtype=torch.float64)
    want_dis = np.mean(a.numpy().argmax(1) != b.numpy().argmax(1))
    assert float(disagreement(a, b)) == pytest.approx(want_dis, abs=0)
    p, q = torch.softmax(a, 1).numpy(), torch.softmax(b, 1).numpy()
    want_jsd = np.mean([jensenshannon(pi, qi, base=2) ** 2 for pi, qi in zip(p, q, strict=True)])
    assert float(jsd(a, b)) == pytest.approx(want_jsd, rel=1e-9)
    assert float(jsd(a, a)) == pytest.approx(0.0, abs=1e-12)
    far = torch.tensor([[100.0, -100.0]], dtype=torch.float64)  # disjoint supports: JSD = 1
    assert float(jsd(far, far.flip(1))) == pytest.approx(1.0, abs=1e-12)


def test_spearman_equals_the_closed_form_and_refuses_too_few_pairs():
    rng = np.random.default_rng(1)
    r, f = rng.normal(size=12), rng.normal(size=12)
    d = np.argsort(np.argsort(r)) - np.argsort(np.argsort(f))  # no ties: 1 - 6 sum d^2/(n(n^2-1))
    want = 1 - 6 * np.sum(d**2) / (12 * (12**2 - 1))
    assert spearman(list(r), list(f)) == (pytest.approx(want, abs=1e-12), 12)
    assert spearman([1.0, float("nan"), 3.0, 4.0], [2.0, 5.0, 6.0, 9.0]) == (1.0, 3)
    assert math.isnan(spearman([1.0, 2.0], [1.0, 2.0])[0])  # < 3 pairs
    assert math.isnan(spearman([1.0, 1.0, 1.0], [1.0, 2.0, 3.0])[0])  # constant side
    assert math.isnan(spearman([1.0, 1.0 - 2e-16, 1.0 - 1e-16], [1.0, 2.0, 3.0])[0])  # rounding


def test_known_answer_magnitude_tracks_accuracy_and_translation_invariant_cka_is_undefined(
    tmp_path,
):
    rows = grounding(_sweep(tmp_path), ["magnitude_diff", "linear_cka"], outputs=None)
    by = {r.metric: r for r in rows}
    assert set(by) == {"magnitude_diff", "linear_cka"}
    mag = by["magnitude_diff"]
    assert mag.layer == "h2" and mag.models == COPIES and mag.pairs["accuracy"] == 10  # C(5, 2)
    assert mag.rho["accuracy"] == pytest.approx(1.0, abs=1e-12)
    assert math.isnan(by["linear_cka"].rho["accuracy"])  # every pair has CKA 1: a constant side
    for r in rows:  # no outputs: the output differences are not counted
        assert r.pairs["disagreement"] == r.pairs["jsd"] == 0 and math.isnan(r.rho["jsd"])


def test_scores_equal_a_direct_recomputation_over_the_pairs(tmp_path):
    sweep = write_sweep(tmp_path / "s", [0], members=("mlp",), ensemble=COPIES, n=N,
                        widths=(WIDTH, WIDTH), dtype="float64")  # fmt: skip
    names = ["linear_cka", "procrustes", "linear_regression"]  # the last is asymmetric
    rows = grounding(sweep, names, outputs=logits, slow_max_n=N)
    (run,) = discover(sweep)
    models = list(run.models)
    h = {m: run.store.load(2, m, "h2", torch.float64) for m in models}
    acc = {m: run.results[f"test/{m}/acc"] for m in models}
    for r in rows:
        spec = METRICS[r.metric]
        pick = itertools.combinations if spec.quantity.symmetric else itertools.permutations
        pairs = list(pick(models, 2))
        sign = -1.0 if spec.kind == "similarity" else 1.0
        rep = [sign * float(spec.fn(h[a], h[b])) for a, b in pairs]
        out = {m: (h[m] @ W_OUT).numpy() for m in models}
        funcs = {
            "accuracy": [abs(acc[a] - acc[b]) for a, b in pairs],
            "disagreement": [np.mean(out[a].argmax(1) != out[b].argmax(1)) for a, b in pairs],
        }
        assert r.pairs["accuracy"] == len(pairs) == (20 if r.metric == "linear_regression" else 10)
        for key, f in funcs.items():
            rep_rank = np.argsort(np.argsort(rep)).astype(float)
            want = np.corrcoef(rep_rank, _avg_ranks(f))[0, 1]
            assert r.rho[key] == pytest.approx(want, abs=1e-10), (r.metric, key)


def _avg_ranks(v):
    """Average ranks for ties (the functional differences repeat), independent of scipy."""
    v = np.asarray(v, dtype=float)
    order = np.argsort(v, kind="stable")
    ranks = np.empty(len(v))
    i = 0
    while i < len(v):
        j = i
        while j + 1 < len(v) and v[order[j + 1]] == v[order[i]]:
            j += 1
        ranks[order[i : j + 1]] = (i + j) / 2.0
        i = j + 1
    return ranks


def test_cli_table_has_both_tests_and_the_figure(tmp_path):
    sweep = _sweep(tmp_path)
    out = tmp_path / "out"
    from xmsem.analysis.layout import checking_layout

    with checking_layout() as found:
        assert main([str(sweep), "--sanity", "--metrics", "magnitude_diff", "linear_cka",
                     "--out", str(out)]) == 0  # fmt: skip
    assert found == {out / "sanity.png": []}  # both panels pass the layout check
    with open(out / "sanity.csv") as f:
        table = {r["metric"]: r for r in csv.DictReader(f)}
    assert set(table) == {"magnitude_diff", "linear_cka"}
    mag = table["magnitude_diff"]
    assert float(mag["rho_accuracy"]) == 1.0 and mag["pairs"] == "10" and mag["layer"] == "h2"
    assert mag["rho_disagreement"] == ""  # a fake sweep has no checkpoints: no outputs
    assert 0.0 <= float(mag["accuracy"]) <= 1.0 and int(mag["counted"]) == COPIES * 4 * 2
    md = (out / "sanity.md").read_text()
    assert "Layer identification" in md and "Grounding" in md and "rho acc" in md
    assert (out / "sanity.png").exists()


@pytest.mark.slow
def test_checkpoint_outputs_equal_the_full_forward_pass_of_a_trained_ensemble(tmp_path):
    """A real tiny run (3 copies of each member): the outputs the CLI takes from last.ckpt (the
    tail after the stored last layer) equal each copy's full forward pass on the probe inputs,
    and --sanity fills every grounding column."""
    from tests.conftest import TINY, compose_cfg
    from xmsem.analyze import checkpoint_outputs
    from xmsem.runs.safeload import load_plain
    from xmsem.snapshots import SnapshotStore
    from xmsem.train import build_cohort, build_datamodule, run

    run_dir = tmp_path / "sweep" / "run0"
    overrides = [*TINY, "ensemble=3", "trainer.max_epochs=1", "trainer.limit_train_batches=5",
                 "callbacks.representations.storage_dtype=float64",
                 "callbacks.representations.metrics=[linear_cka]", "seed=0"]  # fmt: skip
    cfg = compose_cfg(overrides, run_dir)
    run(cfg, run_dir)
    (r,) = discover(tmp_path / "sweep")
    store = SnapshotStore(run_dir)
    epoch = store.epochs()[-1]
    data = build_datamodule(cfg)
    raw = data.prepare()
    probe = raw.x_test[store.load_probe()["indices"]]
    cohort = build_cohort(cfg, raw.input_dim, raw.num_classes, raw.image_shape)
    cohort.load_state_dict(load_plain(run_dir / "checkpoints" / "last.ckpt")["state_dict"])
    outputs = checkpoint_outputs()
    for model in r.models:
        last = store.manifest(epoch)["members"][model][-1]
        got = outputs(r, model, epoch, last, store.load(epoch, model, last, torch.float64))
        with torch.no_grad():
            want = cohort.eval().model(model)(probe).to(torch.float64)
        assert torch.allclose(got, want, atol=1e-5), model
    assert outputs(r, "mlp.0", epoch - 1, last, torch.zeros(1)) is None  # other weights
    out = tmp_path / "out"
    assert main([str(tmp_path / "sweep"), "--sanity", "--metrics", "linear_cka", "procrustes",
                 "--out", str(out), "--no-figures"]) == 0  # fmt: skip
    with open(out / "sanity.csv") as f:
        table = list(csv.DictReader(f))
    assert {row["arch"].split("[")[0] for row in table} == {"mlp", "pgnn"}
    for row in table:
        assert row["pairs"] == "3" and all(row[f"rho_{k}"] != "" for k in ("disagreement", "jsd"))
