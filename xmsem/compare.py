"""Alignment of two models without training: ``python -m xmsem.compare A B [options]``.

A and B are each one of

* a **run folder** (holds ``.hydra/config.yaml``): its models from ``checkpoints/last.ckpt``,
  or, when it has no checkpoint, from its last complete snapshot (``reps/``; no stitching then);
* a **checkpoint** ``.../checkpoints/<file>.ckpt`` of a run folder (the config is the run's);
* a **model file** ``<name>.yaml``: one member spec (``arch: ...`` or ``_target_: pkg.Net`` with
  ``layers``), plus ``weights:`` (a ``torch.save``-d state dict of the network, a path relative
  to the YAML file; left out: the untrained network), ``seed:`` (its initialisation, default 0)
  and ``name:`` (default: the file's stem).

Every model of A is compared with every model of B on the probe set of one dataset (``--data``,
a name of ``conf/data``; default: the dataset of the first run folder): the layer pairs of
``--pairs`` (as ``callbacks.representations.pairs``), the cross-model layer x layer linear CKA
matrix, probe transfer, stitching (into models that can run their tail), and each model's probe
accuracy per layer. The measurement settings are those of A's run (or B's; else the defaults).
Models are named ``A:<model>`` and ``B:<model>``. Writes under ``--out``: ``alignment.csv``
(member_a, member_b, layer_a, layer_b, metric, value), ``skipped.csv``, ``report.md`` and one
layer x layer heatmap per pair of models, ``cross_layer_cka_<a>~<b>.png``.

Training dynamics: ``python -m xmsem.compare RUN`` (one run folder) writes the linear CKA of each
model's layer between every two of its snapshots (``epoch_cka.csv``, one heatmap per model,
``epoch_report.md``; :mod:`xmsem.analysis.dynamics`); ``--epoch-cka`` adds the same for each run
folder of a two-model comparison.

From Python: ``from xmsem.compare import compare; result = compare("runs/a", "runs/b")``;
``compare_epochs("runs/a")`` for the training dynamics.
"""

from __future__ import annotations

import argparse
import csv
import io
import math
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from omegaconf import DictConfig, OmegaConf
from torch import Tensor, nn

from xmsem.config import CONF_DIR
from xmsem.runs.safeload import UnreadableFile, load_plain

COLUMNS = ("member_a", "member_b", "layer_a", "layer_b", "metric", "value")


class CompareError(ValueError):
    """A bad argument of compare: one line naming it and what is valid."""


@dataclass
class Source:
    """The models of one side: networks (with weights) or stored snapshot representations."""

    side: str
    origin: str
    cfg: DictConfig | None = None
    nets: dict[str, nn.Module] = field(default_factory=dict)
    layers: dict[str, list[str]] = field(default_factory=dict)
    snapshot: dict[str, dict[str, Tensor]] | None = None
    about: str = ""  # the run's state, epochs and data, for the terminal and report.md
    probe_indices: Tensor | None = None

    def label(self, model: str) -> str:
        return f"{self.side}:{model}"


@dataclass
class CompareResult:
    rows: list[dict[str, Any]]
    skipped: list[dict[str, str]]
    files: dict[str, Path]
    sides: dict[str, str] = field(default_factory=dict)  # "A"/"B" -> state, epochs, data
    warnings: list[str] = field(default_factory=list)
    epoch_rows: list[dict[str, Any]] = field(default_factory=list)  # training dynamics


# --------------------------------------------------------------------------- sources
def _run_dir(path: Path) -> Path | None:
    for folder in (path, *path.parents[:3]):
        if (folder / ".hydra" / "config.yaml").is_file():
            return folder
    return None


def _kind(path: Path) -> str:
    if path.suffix in (".yaml", ".yml") and path.is_file():
        return "spec"
    if path.is_file() and path.suffix == ".ckpt" and _run_dir(path.parent) is not None:
        return "checkpoint"
    if path.is_dir() and (path / ".hydra" / "config.yaml").is_file():
        return "run"
    raise CompareError(
        f"{path}: not a run folder (with .hydra/config.yaml), a checkpoint (.ckpt) of one, or a "
        "model file (.yaml with arch or _target_)"
    )


def _data_config(name: str | None, sources: Sequence[tuple[Path, str]]) -> DictConfig:
    """``--data NAME`` composed from conf/data, else the first run folder's data node."""
    if name is None:
        for path, kind in sources:
            if kind != "spec":
                return OmegaConf.load(_run_dir(path) / ".hydra" / "config.yaml").data
        raise CompareError("--data is required when neither model comes from a run folder")
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    valid = sorted(p.stem for p in (CONF_DIR / "data").glob("*.yaml"))
    if name not in valid:
        raise CompareError(f"--data {name}: not a known data; valid: {', '.join(valid)}")
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = compose(config_name="config", overrides=[f"data={name}"])
    GlobalHydra.instance().clear()
    return cfg.data


def _load_run(side: str, path: Path, kind: str, raw, device: torch.device) -> Source:
    from xmsem.snapshots import SnapshotStore
    from xmsem.train import build_cohort

    run_dir = _run_dir(path if kind == "run" else path.parent)
    cfg = OmegaConf.load(run_dir / ".hydra" / "config.yaml")
    ckpt = path if kind == "checkpoint" else run_dir / "checkpoints" / "last.ckpt"
    if ckpt.is_file():
        own = cfg.get("data") or {}
        for key, have in (("input_dim", raw.input_dim), ("num_classes", raw.num_classes)):
            wanted = own.get(key)
            if wanted is not None and int(wanted) != int(have):  # it cannot read the probe set
                raise CompareError(
                    f"{side} ({run_dir}) was trained with data.{key}={wanted}; the probe data "
                    f"has {key}={have}: its models cannot be measured on it (--data names data "
                    "both runs can read)"
                )
        cohort = build_cohort(cfg, raw.input_dim, raw.num_classes, raw.image_shape)
        checkpoint = load_plain(ckpt)
        try:
            cohort.load_state_dict(checkpoint["state_dict"])
        except (RuntimeError, KeyError) as err:
            reason = " ".join(str(err).split())[:200]
            raise CompareError(f"{ckpt}: does not fit its run's config ({reason})") from None
        cohort.to(device).eval()
        names = list(getattr(cohort, "model_names", cohort.member_names))
        source = Source(side, f"{ckpt} (run {run_dir})", cfg)
        source.about = describe_run(run_dir, cfg, epochs_in(checkpoint), ckpt.name)
        for name in names:
            get = getattr(cohort, "model", None)
            net = get(name) if callable(get) else cohort.members[name]
            source.nets[name] = net
            source.layers[name] = list(net.layer_names)
        return source
    store = SnapshotStore(run_dir)
    epochs = store.epochs()
    if not epochs:
        raise CompareError(f"{run_dir}: has neither checkpoints/last.ckpt nor a complete snapshot")
    reps = store.load_epoch(epochs[-1], dtype=torch.float64)
    source = Source(side, f"{run_dir} snapshot epoch {epochs[-1]} (no checkpoint)", cfg)
    source.about = describe_run(run_dir, cfg, epochs[-1], f"snapshot epoch_{epochs[-1]:03d}")
    source.snapshot = reps
    source.layers = {m: list(layers) for m, layers in reps.items()}
    source.probe_indices = store.load_probe()["indices"]
    return source


def data_settings(cfg: DictConfig | None) -> dict[str, Any]:
    """A run's dataset and its generation settings (name, seed, sizes, split seed: what must
    agree for A and B to be comparable), without where the files are or how batches are cut
    (the dataset spec's location keys)."""
    from xmsem.data import DATASETS

    if cfg is None or cfg.get("data") is None:
        return {}
    node = OmegaConf.to_container(cfg.data, resolve=True)
    spec = DATASETS.get(node.get("name"))
    return spec.identity(node) if spec is not None else node


def _describe_data(settings: Mapping[str, Any]) -> str:
    rest = ", ".join(f"{k}={v}" for k, v in sorted(settings.items()) if k != "name")
    return f"{settings.get('name', '?')} ({rest})" if rest else str(settings.get("name", "?"))


def epochs_in(checkpoint: Mapping[str, Any]) -> int | None:
    """Epochs trained when the checkpoint was written (Lightning's fit-loop progress)."""
    try:
        return int(checkpoint["loops"]["fit_loop"]["epoch_progress"]["current"]["processed"])
    except (KeyError, TypeError, ValueError):
        epoch = checkpoint.get("epoch") if isinstance(checkpoint, Mapping) else None
        return int(epoch) + 1 if isinstance(epoch, int) else None


def describe_run(run_dir: Path, cfg: DictConfig, epochs: int | None, what: str) -> str:
    """``completed, 4 of 4 epochs (last.ckpt); data synthetic (seed=0, ...)`` for one side."""
    from xmsem.runs.status import RunStatus

    status = RunStatus(run_dir).read() or {}
    state = status.get("state") or "unknown state (no status.json)"
    target = status.get("max_epochs") or OmegaConf.select(cfg, "trainer.max_epochs")
    when = f"{epochs if epochs is not None else '?'} of {target} epochs" if target else "epoch ?"
    note = "" if state == "completed" else " - NOT a finished run: its weights are mid-training"
    return f"{state}, {when} ({what}){note}; data {_describe_data(data_settings(cfg))}"


def check_same_data(configs: Sequence[DictConfig | None], allow_different: bool) -> str | None:
    """None when both sides' runs saw the same data (or a side is a model file); otherwise a
    warning line (``allow_different``) or :class:`CompareError` (one line)."""
    from xmsem.runs.fingerprint import describe_difference

    runs = [c for c in configs if c is not None]
    if len(runs) < 2:
        return None
    a, b = (data_settings(c) for c in runs)
    if a == b:
        return None
    diff = describe_difference(a, b)
    if not allow_different:
        raise CompareError(
            f"A and B were trained on different data ({diff}); both are measured on one probe "
            "set, so pass --allow-different-data to compare them anyway"
        )
    return f"A and B were trained on different data ({diff}); measured on {a.get('name')} of A"


def _load_spec(side: str, path: Path, raw, device: torch.device) -> Source:
    from xmsem.models import ExtractedNet, build_model

    spec = OmegaConf.to_container(OmegaConf.load(path), resolve=True)
    if not isinstance(spec, dict):
        raise CompareError(f"{path}: must be a mapping (a member spec plus weights, seed, name)")
    weights, seed = spec.pop("weights", None), spec.pop("seed", 0)
    name = str(spec.pop("name", path.stem))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(seed))
        try:
            net = build_model(spec, raw.input_dim, raw.num_classes, image_shape=raw.image_shape)
        except ValueError as err:
            raise CompareError(f"{path}: {err}") from None
    origin = f"{path} (untrained, seed {seed})"
    if weights is not None:
        file = (path.parent / str(weights)).resolve()
        if not file.is_file():
            raise CompareError(f"{path}: weights file {file} does not exist")
        state = load_plain(file)
        state = state.get("state_dict", state) if isinstance(state, Mapping) else state
        target = net.net if isinstance(net, ExtractedNet) else net
        try:
            target.load_state_dict(state)
        except RuntimeError as err:
            reason = " ".join(str(err).split())[:300]
            raise CompareError(f"{path}: weights {file.name} do not fit: {reason}") from None
        origin = f"{path} (weights {file})"
    source = Source(side, origin, None, {name: net.to(device).eval()})
    source.layers[name] = list(net.layer_names)
    return source


# --------------------------------------------------------------------------- measuring
def _representations(source: Source, x: Tensor, indices: Tensor) -> dict[str, dict[str, Tensor]]:
    if source.snapshot is not None:
        if not torch.equal(source.probe_indices.cpu(), indices.cpu()):
            raise CompareError(
                f"{source.origin}: its snapshot was taken on another probe set than this "
                "comparison's (other --data or --probe-size); give a run with a checkpoint"
            )
        return source.snapshot
    out: dict[str, dict[str, Tensor]] = {}
    for name, net in source.nets.items():
        with torch.no_grad():
            parts = [net(x[i : i + 4096], return_hidden=True)[1] for i in range(0, len(x), 4096)]
        out[name] = {layer: torch.cat([p[layer] for p in parts]).double() for layer in parts[0]}
    return out


def _tail(net: nn.Module, device: torch.device):
    def at(layer: str):
        def tail(h: Tensor) -> Tensor:
            with torch.no_grad():
                return net.forward_from(layer, h.to(device, torch.float32))

        return tail, float(net.tail_lipschitz(layer))

    return at


def compare(
    a: str | Path,
    b: str | Path,
    data: str | None = None,
    out: str | Path | None = None,
    probe_size: int | None = None,
    pairs: str = "last",
    device: str = "cpu",
    allow_different_data: bool = False,
    epoch_cka: bool = False,
) -> CompareResult:
    """Compare every model of ``a`` with every model of ``b`` (see the module docstring); write
    the files under ``out`` when given. ``epoch_cka``: also the training dynamics of each side
    that is a run folder (:func:`compare_epochs`; rows in ``CompareResult.epoch_rows``). Raises
    :class:`CompareError` (one line) on bad input."""
    from xmsem.data import TensorDataModule, get_dataset
    from xmsem.snapshots import MeasureSettings
    from xmsem.snapshots.measure import PAIRINGS, RepCache, member_rows

    if pairs not in PAIRINGS:
        raise CompareError(f"--pairs {pairs}: valid: {', '.join(PAIRINGS)}")
    if out is not None:  # before minutes of measuring: an --out that cannot be written is one line
        _check_out(out)
    paths = [Path(a), Path(b)]
    for p in paths:
        if not p.exists():
            raise CompareError(f"{p}: no such file or folder")
    kinds = [(p, _kind(p)) for p in paths]
    # before any model is built: runs trained on different data are not comparable as they are
    configs = [None if kind == "spec" else OmegaConf.load(
        _run_dir(p if kind == "run" else p.parent) / ".hydra" / "config.yaml") for p, kind in kinds]  # fmt: skip
    warning = check_same_data(configs, allow_different_data)
    data_cfg = OmegaConf.to_container(_data_config(data, kinds), resolve=True)
    dataset = get_dataset(data_cfg["name"])
    module = TensorDataModule(lambda: dataset.load(data_cfg), data_cfg["batch_size"],
                              data_cfg["val_size"], data_cfg["split_seed"], seed=0)  # fmt: skip
    raw = module.prepare()
    dev = torch.device("cuda" if device == "auto" and torch.cuda.is_available() else
                       ("cpu" if device == "auto" else device))  # fmt: skip
    sources = [
        _load_spec(side, p, raw, dev) if kind == "spec" else _load_run(side, p, kind, raw, dev)
        for side, (p, kind) in zip("AB", kinds, strict=True)
    ]
    runs = [s.cfg for s in sources if s.cfg is not None]
    rep_cfg = (runs[0].get("callbacks") or {}).get("representations") if runs else None
    settings = MeasureSettings.of(rep_cfg) if rep_cfg is not None else MeasureSettings()
    if probe_size is None:
        stored = [s.probe_indices for s in sources if s.probe_indices is not None]
        probe_size = len(stored[0]) if stored else (rep_cfg or {}).get("probe_size")
    try:
        probe = module.probe_set(probe_size, dev)
    except ValueError as err:
        raise CompareError(f"--probe-size: {err}") from None
    reps = [_representations(s, probe.x, probe.indices) for s in sources]
    labels, n_fit = probe.y, probe.n_fit
    cache = RepCache(labels, n_fit, settings)
    rows, skipped = _pair_rows(sources, reps, probe, pairs, settings, cache, dev)
    for s, r in zip(sources, reps, strict=True):
        for name in s.layers:
            rows += member_rows(s.label(name), r[name], labels, n_fit, settings, cache=cache)
    result = CompareResult(rows, skipped, {})
    result.sides = {s.side: s.about or s.origin for s in sources}
    result.warnings = [w for w in [warning] if w]
    result.warnings += [f"{s.side} is not a completed run: {s.about}" for s in sources
                        if s.about and not s.about.startswith("completed")]  # fmt: skip
    if epoch_cka:
        for side, (p, kind) in zip("AB", kinds, strict=True):
            if kind != "spec":
                result.epoch_rows += epoch_rows(p, f"{side}:")
    if out is not None:
        result.files = write_outputs(Path(out), result, sources, data_cfg["name"], probe, pairs)
        if result.epoch_rows:
            about = [f"{s.side}: {s.about or s.origin}" for s in sources]
            result.files.update(write_epoch_outputs(Path(out), result.epoch_rows, about,
                                                    data_cfg["name"]))  # fmt: skip
    return result


def _check_out(out: str | Path) -> None:
    """One-line CompareError for an ``--out`` that cannot be written (before any measuring)."""
    from xmsem.cli.overrides import writable_dir_problem

    problem = writable_dir_problem(str(out))
    if problem is None and os.path.lexists(out) and not Path(out).is_dir():
        what = "a broken link or a link loop" if Path(out).is_symlink() else "a file"
        problem = f"--out {out} is {what}, not a folder"
    if problem:
        raise CompareError(problem)


def _tails(sources: Sequence[Source], dev: torch.device) -> tuple[dict, dict[str, str]]:
    """(model label -> stitching tail, model label -> why it has none)."""
    from xmsem.models import stitch_support

    tails: dict[str, Any] = {}
    no_tail: dict[str, str] = {}
    for s in sources:
        for name in s.layers:
            net = s.nets.get(name)
            reason = "compared from a snapshot: no network" if net is None else stitch_support(net)
            if reason:
                no_tail[s.label(name)] = reason
            else:
                tails[s.label(name)] = _tail(net, dev)
    return tails, no_tail


def _pair_rows(sources, reps, probe, pairs: str, settings, cache, dev) -> tuple[list, list]:
    """Rows of every model of A against every model of B, and the skipped comparisons."""
    from xmsem.snapshots.measure import composite_specs, cross_layer_rows, layer_pairs, pair_rows
    from xmsem.snapshots.table import skip_row

    tails, no_tail = _tails(sources, dev)
    stitched = composite_specs(settings, "stitch")
    rows: list[dict[str, Any]] = []
    skipped: list[dict[str, str]] = []
    src_a, src_b = sources
    for ma in src_a.layers:
        for mb in src_b.layers:
            la, lb = src_a.label(ma), src_b.label(mb)
            ra, rb = reps[0][ma], reps[1][mb]
            chosen = layer_pairs(src_a.layers[ma], src_b.layers[mb], pairs)
            if not chosen:
                skipped.append(skip_row(la, lb, "", "", "pairs", f"pairs={pairs}: no layer name "
                                        "in common (use --pairs last or all)"))  # fmt: skip
            last = (src_a.layers[ma][-1], src_b.layers[mb][-1])
            for m1, m2, l1, l2 in ((la, lb, *last), (lb, la, last[1], last[0])):
                skipped += [skip_row(m1, m2, l1, l2, spec.name, no_tail[m2])
                            for spec in stitched if m2 in no_tail]  # fmt: skip
            rows += pair_rows(la, lb, ra, rb, chosen, probe.y, probe.n_fit, settings, tails=tails,
                              stitch_layers=[last], inputs=probe.x, cache=cache)  # fmt: skip
            rows += cross_layer_rows(la, lb, ra, rb, cache)
    return rows, skipped


# --------------------------------------------------------------------------- outputs
def _csv_text(rows: Sequence[Mapping[str, Any]], columns: Sequence[str]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(columns), extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


NOT_ATTEMPTED = "not attempted"


def _fmt(value: float | None) -> str:
    """A cell of report.md: ``not attempted`` where the number was never measured (None: e.g.
    stitching, which runs at the last layers only, or into a model without a runnable tail),
    ``undefined`` where it was measured and came out NaN (degenerate input)."""
    if value is None:
        return NOT_ATTEMPTED
    return "undefined" if not math.isfinite(value) else f"{value:.3f}"


def cross_matrix(rows, a: str, b: str, layers_a, layers_b):
    """The ``cross_layer_cka`` matrix of models ``a`` x ``b`` (rows: a's layers) from rows."""
    import numpy as np

    index_a = {name: i for i, name in enumerate(layers_a)}
    index_b = {name: j for j, name in enumerate(layers_b)}
    matrix = np.full((len(layers_a), len(layers_b)), np.nan)
    for r in rows:
        if r["metric"] == "cross_layer_cka" and r["member_a"] == a and r["member_b"] == b:
            matrix[index_a[r["layer_a"]], index_b[r["layer_b"]]] = float(r["value"])
    return matrix


def write_outputs(
    out: Path, result: CompareResult, sources: Sequence[Source], dataset: str, probe, pairs: str
) -> dict[str, Path]:
    """alignment.csv, skipped.csv, one heatmap per pair of models and report.md under ``out``."""
    from xmsem.analysis.plots import heatmap_figure, save_figure
    from xmsem.runs.atomic import atomic_write_text

    out.mkdir(parents=True, exist_ok=True)
    files = {
        "alignment.csv": atomic_write_text(out / "alignment.csv", _csv_text(result.rows, COLUMNS)),
        "skipped.csv": atomic_write_text(
            out / "skipped.csv",
            _csv_text(
                result.skipped, ("member_a", "member_b", "layer_a", "layer_b", "what", "reason")
            ),
        ),  # fmt: skip
    }
    src_a, src_b = sources
    lines = [
        "# xmsem compare",
        "",
        f"- A: {src_a.origin}" + (f" - {src_a.about}" if src_a.about else ""),
        f"- B: {src_b.origin}" + (f" - {src_b.about}" if src_b.about else ""),
        *[f"- **warning**: {w}" for w in result.warnings],
        f"- data: {dataset}, probe set of {len(probe.indices)} test examples "
        f"(fit half {probe.n_fit}, eval half {len(probe.indices) - probe.n_fit}); pairs: {pairs}",
        "",
    ]
    by = {}
    for r in result.rows:
        by.setdefault((r["member_a"], r["member_b"], r["layer_a"], r["layer_b"]), {})[
            r["metric"]
        ] = float(r["value"])
    shown = ("linear_cka", "linear_cka_debiased", "rbf_cka", "subspace_overlap")
    for ma in src_a.layers:
        for mb in src_b.layers:
            a, b = src_a.label(ma), src_b.label(mb)
            lines += [f"## {a} vs {b}", ""]
            paired = [k for k in by if k[0] == a and k[1] == b and "linear_cka" in by[k]]
            if paired:
                head = [*shown, "transfer_ratio A<-B", "transfer_ratio B<-A", "stitch_acc A->B",
                        "stitch_acc B->A"]  # fmt: skip
                lines += ["| layer_a | layer_b | " + " | ".join(head) + " |",
                          "|---|---|" + "---|" * len(head)]  # fmt: skip
                for key in paired:
                    la, lb = key[2], key[3]
                    fwd, back = by.get(key, {}), by.get((b, a, lb, la), {})
                    values = [fwd.get(m) for m in shown] + [
                        fwd.get("transfer_ratio"), back.get("transfer_ratio"),
                        fwd.get("stitch_acc"), back.get("stitch_acc"),
                    ]  # fmt: skip
                    lines.append(f"| {la} | {lb} | " + " | ".join(map(_fmt, values)) + " |")
                lines.append("")
            layers_a, layers_b = src_a.layers[ma], src_b.layers[mb]
            matrix = cross_matrix(result.rows, a, b, layers_a, layers_b)
            png = f"cross_layer_cka_{a}~{b}.png".replace(":", "_")
            fig = heatmap_figure(matrix, layers_a, f"linear CKA: {a} (rows) x {b} (columns)",
                                 col_labels=layers_b)  # fmt: skip
            files[png] = save_figure(fig, out / png)
            lines += ["Cross-model layer x layer linear CKA (rows: A's layers):", "",
                      "| | " + " | ".join(layers_b) + " |", "|---|" + "---|" * len(layers_b)]  # fmt: skip
            for i, la in enumerate(layers_a):
                lines.append(f"| {la} | " + " | ".join(_fmt(v) for v in matrix[i]) + " |")
            lines += ["", f"![cross-layer CKA]({png})", ""]
    lines += ["*not attempted*: a number this comparison does not measure (stitching runs at "
              "the last layers, into models with a runnable tail; see Skipped); *undefined*: "
              "measured, but degenerate (e.g. a constant layer).", ""]  # fmt: skip
    lines += ["## Probe accuracy per layer (eval half)", "", "| model | layer | probe_acc |",
              "|---|---|---|"]  # fmt: skip
    for r in result.rows:
        if r["metric"] == "probe_acc":
            lines.append(f"| {r['member_a']} | {r['layer_a']} | {_fmt(float(r['value']))} |")
    if result.skipped:
        lines += ["", "## Skipped", ""]
        lines += [f"- {s['what']} {s['member_a']} -> {s['member_b']}: {s['reason']}"
                  for s in result.skipped]  # fmt: skip
    files["report.md"] = atomic_write_text(out / "report.md", "\n".join(lines) + "\n")
    return files


# --------------------------------------------------------------------------- training dynamics
def epoch_rows(run: str | Path, label: str = "") -> list[dict[str, Any]]:
    """Epoch x epoch linear CKA of every model and layer of one run folder, from its snapshots
    (:mod:`xmsem.analysis.dynamics`); models named ``<label><model>``. :class:`CompareError` when
    ``run`` is not a run folder or has fewer than two complete snapshots."""
    from xmsem.analysis.dynamics import run_epoch_cka
    from xmsem.snapshots import SnapshotStore

    path = Path(run)
    if not path.exists():
        raise CompareError(f"{path}: no such file or folder")
    run_dir = _run_dir(path if path.is_dir() else path.parent)
    if run_dir is None:
        raise CompareError(
            f"{path}: epoch x epoch CKA needs a run folder (with .hydra/config.yaml)"
        )
    epochs = SnapshotStore(run_dir).epochs()
    rows = run_epoch_cka(run_dir)
    if not rows:
        raise CompareError(f"{run_dir}: epoch x epoch CKA needs two complete snapshots in reps/, "
                           f"found {len(epochs)} ({', '.join(map(str, epochs)) or 'none'})")  # fmt: skip
    return [dict(r, model=f"{label}{r['model']}") for r in rows]


def write_epoch_outputs(out: Path, rows: Sequence[Mapping[str, Any]], about: Sequence[str],
                        dataset: str) -> dict[str, Path]:  # fmt: skip
    """``epoch_cka.csv``, one heatmap figure per model (a panel per layer) and the report
    section of the training dynamics under ``out``; the files by name."""
    from xmsem.analysis import dynamics
    from xmsem.analysis.figures import epoch_cka_figures
    from xmsem.runs.atomic import atomic_write_text

    out.mkdir(parents=True, exist_ok=True)
    files = {dynamics.FILE: atomic_write_text(out / dynamics.FILE,
                                              _csv_text(rows, dynamics.RUN_COLUMNS))}  # fmt: skip
    summary = [dict(r, dataset=dataset, arch=r["model"], mean=r["value"], n=1) for r in rows]
    for png in epoch_cka_figures(summary, out):
        files[png.name] = png
    lines = ["# xmsem compare: training dynamics", "", *[f"- {line}" for line in about], ""]
    lines += dynamics.markdown(summary)
    lines += [f"![{p.stem}]({p.name})" for p in files.values() if p.suffix == ".png"]
    files["epoch_report.md"] = atomic_write_text(out / "epoch_report.md", "\n".join(lines) + "\n")
    return files


def compare_epochs(run: str | Path, out: str | Path | None = None) -> CompareResult:
    """Training dynamics of ONE run folder: the linear CKA of each model's layer between every
    two of its snapshots (``reps/epoch_*``); written under ``out`` when given (epoch_cka.csv,
    ``<data>_epoch_cka_<model>.png`` and epoch_report.md)."""
    rows = epoch_rows(run)
    run_dir = _run_dir(Path(run) if Path(run).is_dir() else Path(run).parent)
    cfg = OmegaConf.load(run_dir / ".hydra" / "config.yaml")
    epochs = sorted({r["epoch_a"] for r in rows})
    about = describe_run(run_dir, cfg, epochs[-1], f"snapshots at epochs {epochs}")
    result = CompareResult(rows, [], {}, {"A": about})
    if out is not None:
        dataset = str(OmegaConf.select(cfg, "data.name") or "data")
        result.files = write_epoch_outputs(Path(out), rows, [f"run: {run_dir} - {about}"], dataset)
    return result


# --------------------------------------------------------------------------- command line
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m xmsem.compare",
        description="Alignment of two models without training (run folders, checkpoints or "
        "model YAML files); writes report.md, alignment.csv and heatmaps under --out.",
    )
    parser.add_argument("a", help="run folder, checkpoint (.ckpt) or model file (.yaml)")
    parser.add_argument("b", nargs="?", default=None,
                        help="run folder, checkpoint (.ckpt) or model file (.yaml); left out: "
                        "the training dynamics of run A (epoch x epoch CKA of its snapshots)")  # fmt: skip
    parser.add_argument("--data", help="dataset (a name of conf/data); default: A's or B's run")
    parser.add_argument("--out", default="outputs/compare", help="output folder")
    parser.add_argument("--probe-size", type=int, default=None,
                        help="probe-set size (default: the run's; else the whole test split)")  # fmt: skip
    parser.add_argument("--pairs", default="last", help="same_name | last | all (default last)")
    parser.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1 or auto")
    parser.add_argument("--allow-different-data", action="store_true",
                        help="compare runs trained on different data (refused otherwise)")  # fmt: skip
    parser.add_argument("--epoch-cka", action="store_true",
                        help="also the epoch x epoch CKA of each run folder's snapshots")  # fmt: skip
    args = parser.parse_args(argv)
    try:
        if args.b is None:
            result = compare_epochs(args.a, out=args.out)
        else:
            result = compare(args.a, args.b, data=args.data, out=args.out,
                             probe_size=args.probe_size, pairs=args.pairs, device=args.device,
                             allow_different_data=args.allow_different_data,
                             epoch_cka=args.epoch_cka)  # fmt: skip
    except (CompareError, FileNotFoundError, UnreadableFile) as err:
        print(f"xmsem: error: {err}", file=sys.stderr)
        return 2
    except OSError as err:  # --out is a file, a symlink loop, read-only, a full disk: one line
        where = err.filename or args.out
        print(f"xmsem: error: cannot write --out {args.out}: {err.strerror or err} ({where})",
              file=sys.stderr)  # fmt: skip
        return 2
    for side, about in result.sides.items():
        print(f"{side}: {about}")
    for line in result.warnings:
        print(f"xmsem: warning: {line}", file=sys.stderr)
    report = result.files.get("report.md") or result.files.get("epoch_report.md")
    print(f"{len(result.rows)} rows, {len(result.skipped)} skipped -> {report}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
