"""One wandb run summarising a sweep analysis: the summary table, the report, the figures, and
links to the training runs: the sweep's wandb group and each run's (stable) wandb id, in the
config (``runs``) and as a ``runs`` table, so the summary leads to every run it aggregates."""

from __future__ import annotations

import os
from pathlib import Path

from xmsem.analysis.aggregate import SUMMARY_COLUMNS
from xmsem.analysis.discovery import Run
from xmsem.runs.fingerprint import stable_run_id


def _link(run: Run) -> dict[str, str | int | None]:
    """Where a training run's own wandb run is: its id (the same one training used) and folder."""
    return {"run": run.name, "state": run.state, "dataset": run.dataset, "seed": run.seed,
            "wandb_id": stable_run_id(run.path), "path": str(run.path)}  # fmt: skip


def log_summary(
    out_dir: Path,
    sweep_name: str,
    summary: list[dict],
    report: str,
    figures: list[Path],
    project: str | None = None,
    runs: list[Run] | None = None,
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
        config={"sweep": sweep_name, "runs": [_link(r) for r in runs or []]},
        reinit="finish_previous",
    )
    try:
        table = wandb.Table(columns=list(SUMMARY_COLUMNS))
        for row in summary:
            table.add_data(*[row.get(c) for c in SUMMARY_COLUMNS])
        payload = {"summary": table, "report": wandb.Html(_markdown_html(report))}
        links = [_link(r) for r in runs or []]
        if links:
            payload["runs"] = wandb.Table(columns=list(links[0]), data=[list(x.values())
                                                                        for x in links])  # fmt: skip
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
