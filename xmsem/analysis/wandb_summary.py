"""One wandb run summarising a sweep analysis: the summary table, the report and the figures."""

from __future__ import annotations

import os
from pathlib import Path

from xmsem.analysis.aggregate import SUMMARY_COLUMNS


def log_summary(
    out_dir: Path,
    sweep_name: str,
    summary: list[dict],
    report: str,
    figures: list[Path],
    project: str | None = None,
) -> Path | None:
    """Log to one wandb run (job_type ``analysis``, group = the sweep name, mode from
    ``WANDB_MODE``, offline by default, files under ``<out>/wandb``); returns the run folder."""
    import wandb

    mode = os.environ.get("WANDB_MODE", "offline")
    root = Path(out_dir)
    root.mkdir(parents=True, exist_ok=True)
    run = wandb.init(
        project=project or os.environ.get("WANDB_PROJECT", "xmsem"),
        job_type="analysis",
        group=sweep_name,
        name=f"analysis-{sweep_name}",
        mode=mode,
        dir=str(root),
        config={"sweep": sweep_name},
        reinit="finish_previous",
    )
    try:
        table = wandb.Table(columns=list(SUMMARY_COLUMNS))
        for row in summary:
            table.add_data(*[row.get(c) for c in SUMMARY_COLUMNS])
        payload = {"summary": table, "report": wandb.Html(_markdown_html(report))}
        for path in figures:
            payload[f"figures/{path.stem}"] = wandb.Image(str(path))
        run.log(payload)
        for name in ("report.md", "summary.csv"):
            if (root / name).is_file():
                run.save(str(root / name), base_path=str(root), policy="now")
        folder = Path(run.dir).parent if run.dir else None
    finally:
        wandb.finish()
    return folder


def _markdown_html(text: str) -> str:
    import html

    return f"<pre>{html.escape(text)}</pre>"
