"""Which snapshot files a sweep should hold and does not: analysis names every gap, never drops
data silently.

A completed run with snapshots (``reps/probe.pt``) is expected to hold every epoch that any
completed run of its dataset holds, and every (model, layer) file its epoch's manifest lists.
"""

from __future__ import annotations

import re
from pathlib import Path

from xmsem.analysis.discovery import Run

_EPOCH_DIR = re.compile(r"^epoch_(\d+)$")


def _epoch_dirs(run: Run) -> dict[int, Path]:
    root = run.store.root
    if not root.is_dir():
        return {}
    found = {}
    for child in root.iterdir():
        match = _EPOCH_DIR.match(child.name)
        if match and child.is_dir():
            found[int(match.group(1))] = child
    return found


def missing_snapshots(runs: list[Run]) -> list[str]:
    """One line per missing epoch folder, manifest or layer file of the completed runs."""
    with_reps = [
        r for r in runs if r.state == "completed" and (r.store.root / "probe.pt").is_file()
    ]
    expected: dict[str, set[int]] = {}
    for run in with_reps:
        expected.setdefault(run.dataset, set()).update(run.store.epochs())
    lines = []
    for run in with_reps:
        dirs = _epoch_dirs(run)
        for epoch in sorted(expected.get(run.dataset, set())):
            rel = f"reps/epoch_{epoch:03d}"
            if epoch not in dirs:
                lines.append(f"{run.name}: {rel} missing")
                continue
            manifest = run.store.manifest(epoch)
            if manifest is None:
                lines.append(f"{run.name}: {rel}/manifest.json missing (an interrupted snapshot)")
                continue
            for model, layers in (manifest.get("members") or {}).items():
                for layer in layers:
                    if not (dirs[epoch] / model / f"{layer}.pt").is_file():
                        lines.append(f"{run.name}: {rel}/{model}/{layer}.pt missing")
    return lines


def report_section(lines: list[str]) -> str:
    """Markdown section listing the missing files (empty string when nothing is missing)."""
    if not lines:
        return ""
    body = "\n".join(f"- {line}" for line in lines)
    return (
        "\n## Missing data\n\n"
        f"{len(lines)} snapshot file(s) or folder(s) are missing; the numbers above leave them "
        f"out (every other epoch and layer of those runs is used):\n\n{body}\n"
    )
