"""Value rows of a sweep (one number each, ready for :func:`aggregate`): the runs' live alignment
rows, their validation curves, their final results, and the instances for the cross-run part."""

from __future__ import annotations

from collections.abc import Iterable

from xmsem.analysis.crossrun import Instance
from xmsem.analysis.discovery import Run, probe_fingerprint, read_alignment_csv, read_metrics_csv

# status.json results -> summary metric name (final source)
FINAL_METRICS = {
    "test/{m}/acc": "test_acc",
    "test/{m}/loss": "test_loss",
    "val/{m}/best_acc": "val_best_acc",
    "val/{m}/best_epoch": "best_epoch",
}
CURVE_METRICS = {
    "val/{m}/acc": "val_acc",
    "val/{m}/loss": "val_loss",
    "train/{m}/loss": "train_loss",
}


def layer_label(la: str, lb: str) -> str:
    return la if la == lb else f"{la}~{lb}"


def live_rows(run: Run) -> list[dict]:
    """metrics/alignment.csv of one run: pairs of members as ``archA~archB``, one member as its
    architecture; layers ``h1`` or ``h1~h2`` when the two differ."""
    out = []
    for row in read_alignment_csv(run.path):
        a, b = row["member_a"], row["member_b"]
        arch = run.arch(a) if a == b else f"{run.arch(a)}~{run.arch(b)}"
        out.append(
            {
                "dataset": run.dataset,
                "arch": arch,
                "epoch": row["epoch"],
                "layer": layer_label(row["layer_a"], row["layer_b"]),
                "metric": row["metric"],
                "value": row["value"],
                "source": "live",
                "run": run.name,
            }
        )
    return out


def curve_rows(run: Run) -> list[dict]:
    """Validation accuracy / loss and train loss per epoch from the CSV logs; ``epoch`` counts the
    epochs trained (Lightning's 0-based epoch + 1, the snapshot convention)."""
    out = []
    for epoch, values in sorted(read_metrics_csv(run.path).items()):
        for member in run.members:
            for pattern, metric in CURVE_METRICS.items():
                value = values.get(pattern.format(m=member))
                if value is not None:
                    out.append(
                        {
                            "dataset": run.dataset,
                            "arch": run.arch(member),
                            "epoch": epoch + 1,
                            "layer": None,
                            "metric": metric,
                            "value": value,
                            "source": "live",
                            "run": run.name,
                        }
                    )
    return out


def final_rows(run: Run) -> list[dict]:
    """Final test accuracy / loss, best validation accuracy and its epoch, parameter count."""
    out = []
    for member in run.members:
        found = {
            metric: run.results.get(pattern.format(m=member))
            for pattern, metric in FINAL_METRICS.items()
        }
        if member in run.parameters:
            found["parameters"] = run.parameters[member]
        for metric, value in found.items():
            if value is not None:
                out.append(
                    {
                        "dataset": run.dataset,
                        "arch": run.arch(member),
                        "epoch": None,
                        "layer": None,
                        "metric": metric,
                        "value": float(value),
                        "source": "final",
                        "run": run.name,
                    }
                )
    return out


def arch_order(runs: Iterable[Run]) -> dict[str, int]:
    """A rank per architecture: non-MLP types first (so pairs read ``pgnn~mlp`` as in the live
    cohort and relative differences are (PGNN - MLP) / MLP), then order of first appearance."""
    seen: dict[str, tuple[int, int]] = {}
    for run in runs:
        for member in run.members:
            arch = run.arch(member)
            if arch not in seen:
                seen[arch] = (int(run.arch_type(member) == "mlp"), len(seen))
    return {arch: i for i, arch in enumerate(sorted(seen, key=seen.__getitem__))}


def probe_groups(runs: list[Run]) -> tuple[list[Run], list[tuple[Run, str]]]:
    """Runs whose probe indices agree with their dataset's majority, and the others with why.

    Runs of one dataset must share their probe set (otherwise their representations describe
    different examples and cannot be compared); runs without snapshots are left out silently."""
    kept: list[Run] = []
    refused: list[tuple[Run, str]] = []
    by_dataset: dict[str, dict[str, list[Run]]] = {}
    for run in runs:
        if not run.store.epochs():
            continue
        fp = probe_fingerprint(run)
        if fp is None:
            refused.append((run, "has snapshots but no readable reps/probe.pt"))
            continue
        by_dataset.setdefault(run.dataset, {}).setdefault(fp, []).append(run)
    for groups in by_dataset.values():
        ranked = sorted(groups.items(), key=lambda kv: (-len(kv[1]), kv[0]))
        kept += ranked[0][1]
        for fp, members in ranked[1:]:
            refused += [
                (r, f"probe indices {fp} differ from the dataset's {ranked[0][0]}") for r in members
            ]
    return kept, refused


def instance_groups(runs: list[Run], order: dict[str, int]) -> dict[str, dict[str, list[Instance]]]:
    """dataset -> architecture (ranked by ``order``) -> instances with snapshots."""
    out: dict[str, dict[str, list[Instance]]] = {}
    for run in runs:
        for member in run.members:
            arch = run.arch(member)
            out.setdefault(run.dataset, {}).setdefault(arch, []).append(Instance(run, member, arch))
    return {
        ds: dict(sorted(g.items(), key=lambda kv: order.get(kv[0], 1 << 30)))
        for ds, g in out.items()
    }
