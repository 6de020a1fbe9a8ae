"""``analyze_sweep``: read every run of a sweep, compute the cross-run alignment from its snapshots,
aggregate, and write ``summary.csv``, ``cross_run.csv``, ``epoch_cka.csv`` (training dynamics),
``report.md`` and ``figures/``."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

from xmsem.analysis import collect, dynamics
from xmsem.analysis.aggregate import (
    NONFINITE_COLUMNS,
    PAIRED_COLUMNS,
    SUMMARY_COLUMNS,
    aggregate,
    nonfinite_rows,
    paired_comparisons,
    write_csv,
)
from xmsem.analysis.cache import PairCache
from xmsem.analysis.crossrun import (
    DEFAULT_METRICS,
    check_metrics,
    cross_run_alignment,
    stored_settings,
)
from xmsem.analysis.discovery import AnalysisError, Run, discover, label_varying_keys
from xmsem.analysis.integrity import missing_snapshots, report_section
from xmsem.analysis.stats import METHODS
from xmsem.analysis.values import VALUE_COLUMNS, VALUES_FILE, value_table
from xmsem.runs.atomic import atomic_write_text

log = logging.getLogger(__name__)

CROSS_COLUMNS = (
    "dataset",
    "arch",
    "epoch",
    "layer",
    "metric",
    "value",
    "run_a",
    "member_a",
    "seed_a",
    "copy_a",
    "run_b",
    "member_b",
    "seed_b",
    "copy_b",
)


@dataclass
class AnalysisResult:
    """What an analysis wrote and how much it computed."""

    out_dir: Path
    summary_csv: Path
    cross_run_csv: Path
    report_md: Path
    paired_csv: Path | None = None
    nonfinite_csv: Path | None = None
    epoch_cka_csv: Path | None = None
    figures: list[Path] = field(default_factory=list)
    wandb_dir: Path | None = None
    runs: list[Run] = field(default_factory=list)
    pairs_computed: int = 0  # (pair of instances, epoch, layer) units computed now
    pairs_reused: int = 0  # ... taken from the cache
    seconds: float = 0.0
    missing: list[str] = field(default_factory=list)  # snapshot files that should exist

    @property
    def completed(self) -> list[Run]:
        return [r for r in self.runs if r.state == "completed"]

    @property
    def failed(self) -> list[Run]:
        return [r for r in self.runs if r.state == "failed"]

    @property
    def incomplete(self) -> list[Run]:
        return [r for r in self.runs if r.state == "incomplete"]


def analyze_sweep(
    sweep_dir: str | Path,
    out: str | Path | None = None,
    metrics: tuple[str, ...] | list[str] = DEFAULT_METRICS,
    subspace_k: int | None = None,
    bootstrap: int = 1000,
    seed: int = 0,
    figures: bool = True,
    use_cache: bool = True,
    wandb: bool = False,
    slow_max_n: int = 2000,
    interval: str = "t",
    convergence_fraction: float = 0.95,
) -> AnalysisResult:
    """Analyse ``sweep_dir`` into ``out`` (default ``<sweep_dir>/analysis``).

    Raises :class:`AnalysisError` (one line) when the folder is missing or holds no runs, or for
    bad arguments. Failed and incomplete runs are listed in the report, never fatal. Cross-run
    values use the measurement settings the runs stored; ``subspace_k`` None: theirs too.
    """
    start = time.perf_counter()
    sweep_dir = Path(sweep_dir)
    out_dir = Path(out) if out is not None else sweep_dir / "analysis"
    metrics = _check_arguments(metrics, subspace_k, interval, convergence_fraction, bootstrap)
    runs = discover(sweep_dir, exclude=out_dir)
    label_varying_keys(runs)
    done = [r for r in runs if r.state == "completed"]
    if subspace_k is None:  # the k the runs measured with (the schema's default if none stored)
        subspace_k = stored_settings(done).subspace_k
    missing = missing_snapshots(runs)
    for line in missing:
        log.warning("missing: %s", line)
    states = [r.state for r in runs]
    log.info("%d runs: %d completed, %d failed, %d incomplete", len(runs), len(done),
             states.count("failed"), states.count("incomplete"))  # fmt: skip

    values: list[dict] = []
    for run in done:
        values += collect.final_rows(run) + collect.curve_rows(run) + collect.live_rows(run)
        values += collect.convergence_rows(run, convergence_fraction)
    cross_rows, computed, reused, refused = _cross_rows(
        done, metrics, subspace_k, out_dir, use_cache, slow_max_n
    )
    values += [dict(r, source="cross_run", units=_cross_units(r)) for r in cross_rows]

    summary = aggregate(values, resamples=bootstrap, seed=seed, method=interval)
    types = {r.arch(m): _type(r, m) for r in done for m in r.members}
    paired = paired_comparisons(values, comparisons(types))
    nonfinite = nonfinite_rows(values)
    tables = _write_tables(out_dir, values, summary, cross_rows, paired, nonfinite, types)
    # training dynamics: each model's layers between every two of its snapshots
    epoch_cka = dynamics.summarize(dynamics.sweep_rows(done), bootstrap, seed)
    tables["epoch_cka_csv"] = write_csv(out_dir / dynamics.FILE, epoch_cka,
                                        dynamics.SUMMARY_COLUMNS)  # fmt: skip
    figure_paths: list[Path] = []
    if figures:
        from xmsem.analysis.figures import all_figures

        controls = {arch for arch, kind in types.items() if kind == "control"}
        figure_paths = all_figures(summary, out_dir / "figures", controls, epoch_cka)
    from xmsem.analysis.report import build_report

    report = build_report(
        sweep_dir, runs, summary, figure_paths, out_dir, refused, types, subspace_k,
        paired=paired, nonfinite=nonfinite, convergence_fraction=convergence_fraction,
        epoch_cka=epoch_cka,
    )  # fmt: skip
    report += report_section(missing)
    report_md = atomic_write_text(out_dir / "report.md", report + "\n")
    result = AnalysisResult(out_dir=out_dir, **tables, report_md=report_md, figures=figure_paths,
                            runs=runs, pairs_computed=computed, pairs_reused=reused,
                            missing=missing)  # fmt: skip
    if wandb:
        from xmsem.analysis.wandb_summary import log_summary

        result.wandb_dir = log_summary(
            out_dir, sweep_dir.resolve().name, summary, report, figure_paths, runs=runs
        )
    result.seconds = time.perf_counter() - start
    return result


def _write_tables(
    out_dir: Path, values, summary, cross_rows, paired, nonfinite, types
) -> dict[str, Path]:
    """The CSV tables of an analysis (AnalysisResult field -> path)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    # the raw per-copy values (all but the cross-run pairs, which are cross_run.csv): small enough
    # to commit, and enough to rebuild the summary, paired and nonfinite tables
    # (xmsem.analysis.values)
    write_csv(out_dir / VALUES_FILE, value_table(values, types, comparisons(types)), VALUE_COLUMNS)
    return {
        "summary_csv": write_csv(out_dir / "summary.csv", summary, SUMMARY_COLUMNS),
        "cross_run_csv": write_csv(out_dir / "cross_run.csv", cross_rows, CROSS_COLUMNS),
        "paired_csv": write_csv(out_dir / "paired.csv", paired, PAIRED_COLUMNS),
        "nonfinite_csv": write_csv(out_dir / "nonfinite.csv", nonfinite, NONFINITE_COLUMNS),
    }


def _check_arguments(
    metrics, subspace_k: int | None, interval: str, convergence_fraction: float, bootstrap: int
) -> tuple[str, ...]:
    """The checked metric names; one-line AnalysisError for a bad argument."""
    try:
        metrics = check_metrics(metrics)
    except ValueError as err:
        raise AnalysisError(f"--metrics: {err}") from None
    if subspace_k is not None and subspace_k < 1:
        raise AnalysisError(f"--subspace-k must be a positive integer, got {subspace_k}")
    if interval not in METHODS:
        raise AnalysisError(f"--interval {interval!r} is not known; valid: {', '.join(METHODS)}")
    if not 0.0 < convergence_fraction <= 1.0:
        raise AnalysisError(f"--convergence-fraction must be in (0, 1], got {convergence_fraction}")
    if bootstrap < 0:
        raise AnalysisError(f"--bootstrap must be >= 0, got {bootstrap}")
    return metrics


def _cross_rows(
    done: list[Run], metrics, subspace_k: int, out_dir: Path, use_cache: bool, slow_max_n: int
) -> tuple[list[dict], int, int, list]:
    """Cross-run alignment of the completed runs' snapshots: (rows, pairs computed, pairs
    reused from the cache, runs refused for a different probe set)."""
    order = collect.arch_order(done)
    comparable, refused = collect.probe_groups(done)
    cache = PairCache(out_dir / "cache" if use_cache else None)
    rows: list[dict] = []
    computed = reused = 0
    for dataset, groups in collect.instance_groups(comparable, order).items():
        res = cross_run_alignment(
            dataset, groups, metrics, subspace_k, cache, slow_max_n, progress=log.info
        )
        rows += res.rows
        computed += res.pairs_computed
        reused += res.pairs_reused
    cache.save()
    return rows, computed, reused, refused


def _cross_units(row: dict) -> tuple:
    """The two seed units of a cross-run pair (see :func:`collect.seed_unit`)."""
    a = collect.seed_unit(row["seed_a"], row["run_a"], row.get("copy_a"))
    b = collect.seed_unit(row["seed_b"], row["run_b"], row.get("copy_b"))
    return (a, b)


def _type(run: Run, member: str) -> str:
    """A member's architecture type; ``control`` for a shuffled-label control member."""
    if str(run.members.get(member, {}).get("labels", "true")) == "shuffled":
        return "control"
    return run.arch_type(member)


def comparisons(types: dict[str, str]) -> list[tuple[str, str]]:
    """(architecture, its MLP baseline) for every non-MLP, non-control architecture."""
    from xmsem.analysis.report import baseline_for

    archs = list(types)
    out = []
    for arch in archs:
        if types[arch] in ("mlp", "control"):
            continue
        base = baseline_for(arch, archs, types)
        if base is not None:
            out.append((arch, base))
    return out
