"""Sweep analysis: ``python -m xmsem.analyze <sweep dir>``.

Modules: ``discovery`` (runs, architectures, per-run files), ``crossrun`` (seed-vs-seed and
cross-architecture alignment from snapshots, fast linear path), ``cache`` (pair values of
unchanged runs are reused), ``collect`` (value rows), ``aggregate`` (mean, std, bootstrap CI,
summary.csv), ``report`` (report.md), ``figures`` (PNG), ``wandb_summary`` (one wandb run),
``pipeline`` (:func:`analyze_sweep`).
"""

from xmsem.analysis.discovery import AnalysisError
from xmsem.analysis.pipeline import AnalysisResult, analyze_sweep

__all__ = ["AnalysisError", "AnalysisResult", "analyze_sweep"]
