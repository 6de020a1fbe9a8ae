"""Figures read like a paper's: labels from the metric registry, integer epoch ticks, bands that
say what they are (and none below 3 seeds), same-seed / different-seed / seed-vs-seed values in
one panel, direction written out, short file names, variants labelled by what varies."""

from __future__ import annotations

from matplotlib.collections import PolyCollection

from xmsem.alignment import quantity
from xmsem.analysis.discovery import Run, label_varying_keys
from xmsem.analysis.figures import (
    _safe,
    band_words,
    distinct_colours,
    draw_accuracy,
    draw_alignment,
    draw_control_accuracy,
    metric_label,
)
from xmsem.analysis.layout import CONTROL_GID, checking_layout, layout_problems
from xmsem.analysis.plots import plt


def _row(arch, metric, epoch, mean, n, source="live", layer="h2", half=0.05):
    return {"dataset": "d", "arch": arch, "epoch": epoch, "layer": layer, "metric": metric,
            "mean": mean, "std": 0.1, "ci_low": mean - half, "ci_high": mean + half, "n": n,
            "source": source}  # fmt: skip


def _rows(n: int) -> list[dict]:
    rows = []
    for e in (0, 1, 2, 5):
        rows.append(_row("pgnn~mlp", "linear_cka", e, 0.5 + 0.01 * e, n))
        rows.append(_row("pgnn~mlp", "seed_linear_cka", e, 0.4, n, "cross_run"))
        rows.append(_row("pgnn", "seed_linear_cka", e, 0.6, n, "cross_run"))
        rows.append(_row("pgnn~mlp", "transfer_ratio", e, 0.9, n))
        rows.append(_row("mlp~pgnn", "transfer_ratio", e, 0.8, n))
    return rows


def _legend(ax) -> list[str]:
    return [t.get_text() for t in ax.get_legend().get_texts()]


def test_same_seed_different_seed_and_seed_vs_seed_share_one_panel():
    fig, ax = plt.subplots(layout="constrained")
    assert draw_alignment(ax, _rows(5), "linear_cka", "h2")
    # one entry per colour (pair, seed-vs-seed architecture), then the line styles
    assert _legend(ax) == ["pgnn vs mlp", "pgnn, seed vs seed", "same seed", "different seeds"]
    assert ax.get_legend().get_title().get_text() == "bands: 95% CI over 5 seeds"
    assert (
        ax.get_ylabel().replace("\n", " ")
        == quantity("linear_cka").axis_label()
        == ("linear CKA (higher = more aligned)")
    )
    assert sum(isinstance(c, PolyCollection) for c in ax.collections) == 3  # one band per line
    styles = {ln.get_label(): ln.get_linestyle() for ln in ax.get_lines()}
    assert styles == {"pgnn vs mlp, same seed": "-", "pgnn vs mlp, different seeds": "--",
                      "pgnn, seed vs seed, seed vs seed": "-."}  # fmt: skip
    fig.canvas.draw()
    ticks = [t for t in ax.get_xticks() if 0 <= t <= 5]
    assert ticks and all(float(t).is_integer() for t in ticks)  # epochs are whole numbers
    assert layout_problems(fig) == []
    plt.close(fig)


def test_controls_share_the_panel_in_one_grey_style_and_one_legend_entry():
    rows = _rows(4)
    for r in rows:
        if r["metric"] == "linear_cka":
            r["untrained"] = 0.2
    rows += [_row("pgnn~mlp", "linear_cka_null", e, 0.05, 4) for e in (0, 1, 2, 5)]
    rows += [_row("pgnn~mlp_shuffled", "linear_cka", e, 0.3, 4) for e in (0, 1, 2, 5)]
    fig, ax = plt.subplots(layout="constrained")
    draw_alignment(ax, rows, "linear_cka", "h2", controls={"mlp_shuffled"})
    labels = _legend(ax)
    assert [t for t in labels if t.startswith("controls")] == [
        "controls (shuffled labels, chance,\nuntrained)"
    ]
    grey = [ln for ln in ax.get_lines() if ln.get_gid() == CONTROL_GID]
    assert {(ln.get_color(), ln.get_linestyle()) for ln in grey} == {("0.6", ":")}
    assert len(grey) == 3  # shuffled-label pair, chance, untrained
    untrained = next(ln for ln in grey if "untrained" in ln.get_label())
    assert list(untrained.get_ydata()) == [0.2] * 4
    # the control pair is not a coloured subject: no colour is spent on it
    assert not any("mlp_shuffled" in t for t in labels)
    assert layout_problems(fig) == []
    plt.close(fig)


def test_no_band_below_three_seeds_and_the_legend_says_why():
    fig, ax = plt.subplots()
    draw_alignment(ax, _rows(2), "linear_cka", "h2")
    assert not any(isinstance(c, PolyCollection) for c in ax.collections)
    assert ax.get_legend().get_title().get_text() == "2 seeds: too few for a 95% CI"
    plt.close(fig)


def test_directional_metric_names_both_directions():
    fig, ax = plt.subplots()
    draw_alignment(ax, _rows(3), "transfer_ratio", "h2")
    labels = _legend(ax)
    assert any(t.startswith("pgnn→mlp") for t in labels)
    assert any(t.startswith("mlp→pgnn") for t in labels)
    assert "A's probe on B's features" in quantity("transfer_ratio").direction
    plt.close(fig)


def test_accuracy_panel_uses_registry_label():
    fig, ax = plt.subplots()
    assert draw_accuracy(ax, [_row("pgnn", "val_acc", e, 0.8, 4) for e in (1, 2, 3)])
    assert ax.get_ylabel() == "validation accuracy" and ax.get_xlabel() == "epochs trained"
    plt.close(fig)


def test_the_shuffled_label_control_does_not_flatten_the_accuracy_panel():
    rows = [_row(a, "val_acc", e, v + 0.01 * e, 4) for e in (1, 2, 3)
            for a, v in (("pgnn", 0.85), ("mlp", 0.86), ("mlp_shuffled", 0.1))]  # fmt: skip
    fig, (ax, ctrl) = plt.subplots(1, 2, layout="constrained")
    assert draw_accuracy(ax, rows, controls={"mlp_shuffled"})
    assert draw_control_accuracy(ctrl, rows, controls={"mlp_shuffled"})
    assert {ln.get_label() for ln in ax.get_lines()} == {"pgnn", "mlp"}
    lo, hi = ax.get_ylim()
    assert lo > 0.5 and hi - lo < 0.2  # the models' axis spans their accuracies only
    assert [ln.get_gid() for ln in ctrl.get_lines()] == [CONTROL_GID]
    assert ctrl.get_ylim()[1] < 0.5
    assert layout_problems(fig) == []
    plt.close(fig)


def test_colours_do_not_repeat_within_a_panel():
    for n in (3, 9, 12, 30):
        colours = distinct_colours(n)
        assert len(colours) == n and len({tuple(map(float, c[:3])) for c in colours}) == n
        assert all(len(set(c[:3])) > 1 for c in colours)  # no grey (the controls' colour)
    rows = [_row(f"v{i}~mlp", "linear_cka", e, 0.5 + 0.01 * i, 3) for i in range(12)
            for e in (0, 1)]  # fmt: skip
    fig, ax = plt.subplots(layout="constrained")
    draw_alignment(ax, rows, "linear_cka", "h2")
    assert len({ln.get_color() for ln in ax.get_lines()}) == 12
    plt.close(fig)


def test_bands_are_named_in_words():
    rows = [{"metric": f"spectral_graph_band{b}"} for b in range(3)]
    assert metric_label("spectral_graph_band0", rows) == "linear CKA, low-frequency kNN-graph band"
    assert metric_label("spectral_graph_band1", rows) == "linear CKA, mid-frequency kNN-graph band"
    assert metric_label("spectral_graph_band2", rows) == "linear CKA, high-frequency kNN-graph band"
    assert band_words("spectral_pca_band0", 3) == "leading PCA components"
    assert band_words("spectral_pca_band2", 3) == "trailing PCA components"
    assert band_words("spectral_graph_band1", 4) == "mid-frequency (2 of 4) kNN-graph band"
    assert band_words("linear_cka") is None


def test_long_names_are_short_and_distinct():
    a = _safe("pgnn[" + ",".join(f"model.pgnn.key{i}=value{i}" for i in range(12)) + "]")
    b = _safe("pgnn[" + ",".join(f"model.pgnn.key{i}=value{i}" for i in range(13)) + "]")
    assert len(a) <= 40 and len(b) <= 40 and a != b
    assert _safe("linear_cka") == "linear_cka"


def test_variants_labelled_by_the_keys_that_vary():
    common = ["trainer.max_epochs=2", "trainer.limit_train_batches=20"]
    runs = [
        Run(path=None, name=f"r{i}", state="completed", seed=i,
            overrides=[*common, f"seed={i}", f"model.pgnn.shaping={shaping}"])
        for i, shaping in enumerate(["spectral", "none", "spectral"])
    ]  # fmt: skip
    runs[0].members = {"pgnn": {}}
    assert label_varying_keys(runs) == {"model.pgnn.shaping"}
    assert runs[0].arch("pgnn") == "pgnn[model.pgnn.shaping=spectral]"
    same = [Run(path=None, name="r", state="completed", overrides=common)]
    label_varying_keys(same)
    assert same[0].arch("pgnn") == "pgnn"  # nothing varies: no clutter


def test_more_pairs_than_colours_still_draw():
    # an 8-variant ablation sweep: 50 pairs of architectures in one panel
    rows = [_row(f"v{i}~mlp", "linear_cka", e, 0.5, 3) for i in range(50) for e in (0, 1)]
    fig, ax = plt.subplots()
    assert draw_alignment(ax, rows, "linear_cka", "h2")
    assert len(ax.get_lines()) >= 50
    plt.close(fig)


def test_models_with_different_layer_names_are_one_pair_and_the_summary_names_it(
    tmp_path, monkeypatch
):
    """A CNN next to an MLP: no layer name in common. The summary is at their deepest pair of
    layers (not "layer None"), and both directions of a pair of layers are drawn."""
    from xmsem.analysis.figures import _deepest_shared, summary_figures

    rows = []
    for e in (0, 1, 2):
        rows.append(_row("cnn~mlp", "linear_cka", e, 0.5, 3, layer="fc1~h3"))
        rows.append(_row("cnn~mlp", "linear_cka", e, 0.4, 3, layer="conv1~h1"))
        rows.append(_row("cnn~mlp", "transfer_ratio", e, 0.9, 3, layer="fc1~h3"))
        rows.append(_row("mlp~cnn", "transfer_ratio", e, 0.7, 3, layer="h3~fc1"))
    assert _deepest_shared(rows) == "fc1~h3"
    fig, ax = plt.subplots()
    assert draw_alignment(ax, rows, "transfer_ratio", "fc1~h3")
    assert _legend(ax) == ["cnn→mlp", "mlp→cnn"]  # both directions of the one pair of layers
    plt.close(fig)
    from xmsem.analysis.figures import _one_per_pair

    assert _one_per_pair(["fc1~h3", "h3~fc1", "conv1~h1"]) == ["conv1~h1", "fc1~h3"]
    import xmsem.analysis.figures as figures

    titles = []
    monkeypatch.setattr(figures, "save_figure",
                        lambda fig, path: titles.append(fig._suptitle.get_text()) or path)  # fmt: skip
    summary_figures(rows, tmp_path)
    assert titles == ["d: study summary (alignment at layer fc1~h3)"]
    monkeypatch.undo()
    with checking_layout() as found:  # and the page passes the layout check
        (path,) = summary_figures(rows, tmp_path)
    assert found[path] == []


def test_a_many_variant_sweep_keeps_a_readable_legend(tmp_path):
    """16 variants: legends name variants by their short keys, and a panel draws a different-seed
    pair only as the baseline of a pair measured live (not all C(16, 2) cross-run pairs)."""
    from xmsem.analysis.figures import alignment_subjects, short

    assert short("pgnn[model.pgnn.shaping=none,model.pgnn.correction=True]") == (
        "pgnn[shaping=none,correction=True]"
    )
    archs = [f"pgnn[model.pgnn.shaping=s{i}]" for i in range(8)] + [
        f"mlp[model.pgnn.shaping=s{i}]" for i in range(8)
    ]
    rows = [_row(f"{archs[i]}~{archs[i + 8]}", "linear_cka", e, 0.5, 3) for i in range(8)
            for e in (0, 1)]  # fmt: skip
    rows += [_row(f"{a}~{b}", "seed_linear_cka", e, 0.4, 3, "cross_run")
             for a in archs for b in archs if a < b for e in (0, 1)]  # fmt: skip
    rows += [_row(f"{archs[i]}~{archs[i + 8]}", "seed_linear_cka", e, 0.4, 3, "cross_run")
             for i in range(8) for e in (0, 1)]  # fmt: skip
    assert len(alignment_subjects(rows, "linear_cka")) == 8
    with checking_layout() as found:
        from xmsem.analysis.figures import summary_figures

        (path,) = summary_figures(rows, tmp_path)
    assert found[path] == []
