"""The layout check (xmsem.analysis.layout) finds what makes a figure unfit for a paper, passes
a clean one, and every figure of an analysed sweep passes it."""

from __future__ import annotations

import pytest

from xmsem.analysis.layout import (
    CONTROL_GID,
    LayoutError,
    check_layout,
    checking_layout,
    layout_problems,
)
from xmsem.analysis.plots import plt, save_figure


def _clean():
    fig, ax = plt.subplots(figsize=(5, 3), layout="constrained")
    ax.plot([0, 1, 2], [0.1, 0.5, 0.9], color="C0", label="a")
    ax.plot([0, 1, 2], [0.9, 0.5, 0.1], color="C1", label="b")
    ax.set(xlabel="epochs trained", ylabel="linear CKA")
    ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0)
    return fig, ax


def test_a_clean_figure_passes():
    fig, _ = _clean()
    assert layout_problems(fig) == []
    check_layout(fig)  # no raise
    plt.close(fig)


def test_text_outside_the_canvas_is_found():
    fig, ax = _clean()
    fig.text(0.98, 0.5, "a note that runs off the right edge")
    problems = layout_problems(fig)
    assert any("a note that runs off" in p and "outside the canvas" in p for p in problems)
    with pytest.raises(LayoutError, match="outside the canvas"):
        check_layout(fig, "f")
    plt.close(fig)


def test_a_clipped_axis_label_is_found():
    fig, ax = plt.subplots(figsize=(3, 2))  # no layout engine: a long label sticks out
    ax.plot([0, 1], [0, 1])
    ax.set_ylabel("stitching penalty (own − stitched accuracy) (lower = more aligned)")
    assert any("stitching penalty" in p for p in layout_problems(fig))
    plt.close(fig)


def test_a_legend_over_the_data_is_found():
    fig, ax = plt.subplots(figsize=(5, 3), layout="constrained")
    ax.plot([0, 1], [0.5, 0.5], color="C0", label="across the middle")
    ax.legend(loc="center")
    problems = layout_problems(fig)
    assert any("legend covers" in p for p in problems)
    plt.close(fig)
    # a small legend inside the axes but away from the data is fine
    fig, ax = plt.subplots(figsize=(5, 3), layout="constrained")
    ax.plot([0, 1], [0.0, 0.1], color="C0", label="low line")
    ax.set_ylim(0, 1)
    ax.legend(loc="upper right")
    assert layout_problems(fig) == []
    plt.close(fig)


def test_a_long_legend_inside_the_axes_is_found():
    fig, ax = plt.subplots(figsize=(6, 4), layout="constrained")
    for i in range(6):
        ax.plot([0, 1], [i, i], color=f"C{i}", label=f"line {i}")
    ax.set_ylim(-30, 10)
    ax.legend(loc="lower right")  # away from the lines, but 6 entries inside
    assert any("6 entries inside the axes" in p for p in layout_problems(fig))
    plt.close(fig)


def test_repeated_colours_and_scattered_control_styles_are_found():
    fig, ax = plt.subplots(figsize=(5, 3), layout="constrained")
    ax.plot([0, 1], [0, 1], color="C0", label="pgnn vs mlp")
    ax.plot([0, 1], [1, 0], color="C0", label="cnn vs mlp")  # same colour, same style
    ax.plot([0, 1], [0.2, 0.2], color="0.6", linestyle=":", gid=CONTROL_GID, label="null")
    ax.plot([0, 1], [0.3, 0.3], color="red", linestyle="--", gid=CONTROL_GID, label="untrained")
    ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0))
    problems = layout_problems(fig)
    assert any("share colour and style" in p for p in problems)
    assert any("controls are drawn in 2 styles" in p for p in problems)
    assert any("named 'controls'" in p for p in problems)  # no single "controls" entry
    plt.close(fig)


def test_a_band_named_by_number_is_found():
    fig, ax = _clean()
    ax.set_title("linear CKA in kNN-graph band 0")
    assert any("names a band by number" in p for p in layout_problems(fig))
    plt.close(fig)


def test_checking_layout_sees_every_saved_figure(tmp_path):
    with checking_layout() as found:
        fig, _ = _clean()
        save_figure(fig, tmp_path / "clean.png")
        fig, _ = _clean()
        fig.text(0.99, 0.5, "off the edge")
        save_figure(fig, tmp_path / "bad.png")
    assert found[tmp_path / "clean.png"] == []
    assert found[tmp_path / "bad.png"]
    assert (tmp_path / "clean.pdf").is_file()
    # outside the block nothing is checked (no extra drawing)
    fig, _ = _clean()
    save_figure(fig, tmp_path / "later.png")
    assert tmp_path / "later.png" not in found


@pytest.fixture(scope="module")
def tiny_sweep(tmp_path_factory):
    """A real tiny sweep: one debug=tiny synthetic run of 2 copies of pgnn and mlp plus a
    shuffled-label control member, measuring every figure's metrics (spectral bands too)."""
    from hydra.core.global_hydra import GlobalHydra

    from tests.conftest import TINY, compose_cfg
    from xmsem.train import run

    root = tmp_path_factory.mktemp("sweep")
    overrides = [
        *TINY, "ensemble=2", "seed=0", "logger=csv", "trainer.limit_train_batches=10",
        "+model.mlp_shuffled={arch: mlp, hidden: [16,16], labels: shuffled}",
        "callbacks.representations.metrics=[linear_cka,subspace_overlap,probe_transfer,"
        "stitching,spectral]",
        "callbacks.representations.spectral_null_perms=2",
        "callbacks.representations.spectral_max_n=120",
    ]  # fmt: skip
    run(compose_cfg(overrides, root / "run0"), root / "run0")
    GlobalHydra.instance().clear()
    return root


@pytest.mark.slow
def test_every_figure_of_a_tiny_sweep_passes_the_layout_check(tiny_sweep):
    from xmsem.analysis import analyze_sweep

    with checking_layout() as found:
        result = analyze_sweep(tiny_sweep, subspace_k=4, bootstrap=50)
    names = [p.name for p in result.figures]
    assert names[0] == "synthetic_summary.png" and max(len(n) for n in names) <= 40
    expected = {"summary", "accuracy", "stability", "layer_cka", "epoch_cka_pgnn",
                "epoch_cka_mlp", "linear_cka", "subspace_overlap", "transfer_ratio",
                "stitch_penalty", "spectral_graph_band0", "spectral_pca_band2"}  # fmt: skip
    assert {f"synthetic_{e}.png" for e in expected} <= set(names)
    assert set(found) == set(result.figures)  # every figure was checked ...
    assert {p.name: q for p, q in found.items() if q} == {}  # ... and passed
    assert all(p.with_suffix(".pdf").is_file() for p in result.figures)
    report = result.report_md.read_text()
    assert "live table above" not in report and "± –" not in report


def test_heatmaps_of_compare_and_compare_models_pass():
    """compare's cross-layer heatmaps and ``Comparison.plot()``: long names, many layers."""
    import numpy as np

    from xmsem.analysis.plots import heatmap_figure
    from xmsem.inmemory import Comparison

    layers = [f"features.{i}.block.conv" for i in range(14)]
    fig = heatmap_figure(np.random.default_rng(0).random((14, 3)), layers,
                         "linear CKA: A:resnet18_pretrained (rows) x B:mlp_baseline (columns)",
                         col_labels=["h1", "h2", "h3"])  # fmt: skip
    assert layout_problems(fig) == []
    plt.close(fig)
    rows = [{"member_a": "a", "member_b": "b", "layer_a": la, "layer_b": lb, "metric": "linear_cka",
             "value": 0.5} for la in ("layer3", "layer4", "avgpool") for lb in ("fc1", "fc2")]  # fmt: skip
    fig = Comparison(("a", "b"), ["layer3", "layer4", "avgpool"], ["fc1", "fc2"], 64, rows).plot()
    assert layout_problems(fig) == []
    plt.close(fig)


def test_save_grows_a_figure_whose_legend_hangs_below_the_canvas(tmp_path):
    fig, ax = plt.subplots(figsize=(5, 2), layout="constrained")
    colours = plt.get_cmap("tab20").colors
    for i in range(20):
        ax.plot([0, 1], [i, i + 1], color=colours[i], label=f"entry number {i}")
    ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0, fontsize=8)
    assert any("outside the canvas" in p for p in layout_problems(fig))
    with checking_layout() as found:
        path = save_figure(fig, tmp_path / "tall")
    assert found[path] == []
