"""``analyze_sweep``: read every run of a sweep, compute the cross-run alignment from its snapshots,
aggregate, and write ``summary.csv``, ``cross_run.csv``, ``report.md`` and ``figures/``."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

from xmsem.analysis import collect
from xmsem.analysis.aggregate import SUMMARY_COLUMNS, aggregate, write_csv
from xmsem.analysis.cache import PairCache
from xmsem.analysis.crossrun import DEFAULT_METRICS, check_metrics, cross_run_alignment
from xmsem.analysis.discovery import AnalysisError, Run, discover
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
    figures: list[Path] = field(default_factory=list)
    wandb_dir: Path | None = None
    runs: list[Run] = field(default_factory=list)
    pairs_computed: int = 0  # (pair of instances, epoch, layer) units computed now
    pairs_reused: int = 0  # ... taken from the cache
    seconds: float = 0.0

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
    subspace_k: int = 10,
    bootstrap: int = 1000,
    seed: int = 0,
    figures: bool = True,
    use_cache: bool = True,
    wandb: bool = False,
    slow_max_n: int = 2000,
) -> AnalysisResult:
    """Analyse ``sweep_dir`` into ``out`` (default ``<sweep_dir>/analysis``).

    Raises :class:`AnalysisError` (one line) when the folder is missing or holds no runs, or for
    bad arguments. Failed and incomplete runs are listed in the report, never fatal.
    """
    start = time.perf_counter()
    sweep_dir = Path(sweep_dir)
    out_dir = Path(out) if out is not None else sweep_dir / "analysis"
    try:
        metrics = check_metrics(metrics)
    except ValueError as err:
        raise AnalysisError(f"--metrics: {err}") from None
    if subspace_k < 1:
        raise AnalysisError(f"--subspace-k must be a positive integer, got {subspace_k}")
    if bootstrap < 0:
        raise AnalysisError(f"--bootstrap must be >= 0, got {bootstrap}")
    runs = discover(sweep_dir, exclude=out_dir)
    done = [r for r in runs if r.state == "completed"]
    log.info(
        "%d runs: %d completed, %d failed, %d incomplete",
        len(runs),
        len(done),
        sum(r.state == "failed" for r in runs),
        sum(r.state == "incomplete" for r in runs),
    )

    values: list[dict] = []
    for run in done:
        values += collect.final_rows(run) + collect.curve_rows(run) + collect.live_rows(run)

    order = collect.arch_order(done)
    comparable, refused = collect.probe_groups(done)
    cache = PairCache(out_dir / "cache" if use_cache else None)
    cross_rows: list[dict] = []
    computed = reused = 0
    for dataset, groups in collect.instance_groups(comparable, order).items():
        res = cross_run_alignment(
            dataset, groups, metrics, subspace_k, cache, slow_max_n, progress=log.info
        )
        cross_rows += res.rows
        computed += res.pairs_computed
        reused += res.pairs_reused
    cache.save()
    values += [dict(r, source="cross_run") for r in cross_rows]

    summary = aggregate(values, resamples=bootstrap, seed=seed)
    out_dir.mkdir(parents=True, exist_ok=True)
    summary_csv = write_csv(out_dir / "summary.csv", summary, SUMMARY_COLUMNS)
    cross_csv = write_csv(out_dir / "cross_run.csv", cross_rows, CROSS_COLUMNS)
    figure_paths: list[Path] = []
    if figures:
        from xmsem.analysis.figures import all_figures

        figure_paths = all_figures(summary, out_dir / "figures")
    from xmsem.analysis.report import build_report

    types = {r.arch(m): r.arch_type(m) for r in done for m in r.members}
    report = build_report(
        sweep_dir, runs, summary, figure_paths, out_dir, refused, types, subspace_k
    )
    report_md = atomic_write_text(out_dir / "report.md", report + "\n")
    result = AnalysisResult(
        out_dir=out_dir,
        summary_csv=summary_csv,
        cross_run_csv=cross_csv,
        report_md=report_md,
        figures=figure_paths,
        runs=runs,
        pairs_computed=computed,
        pairs_reused=reused,
    )
    if wandb:
        from xmsem.analysis.wandb_summary import log_summary

        result.wandb_dir = log_summary(
            out_dir, sweep_dir.resolve().name, summary, report, figure_paths
        )
    result.seconds = time.perf_counter() - start
    return result
