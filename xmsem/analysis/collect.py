"""Value rows of a sweep (one number each, ready for :func:`aggregate`): the runs' live alignment
rows, their validation curves, their final results, and the instances for the cross-run part."""

from __future__ import annotations

from collections.abc import Iterable

from xmsem.analysis.crossrun import Instance
from xmsem.analysis.discovery import Run, probe_fingerprint, read_alignment_csv, read_metrics_csv
from xmsem.runs.convergence import (
    DEFAULT_FRACTION,
    accuracy_auc,
    epochs_to_fraction,
    steps_to_fraction,
)

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


def seed_unit(seed: int | None, run_name: str, copy: int | None) -> tuple:
    """The independent unit of a model: (run seed, copy index) — one initialisation and one
    data order; a plain member is copy 0 (initialised like copy 0 of an ensemble). Models of
    different architectures in the same run seed and copy share it (they are paired); a run
    without a seed is its own unit."""
    return (seed if seed is not None else f"run:{run_name}", copy or 0)


def unit_of(run: Run, model: str) -> tuple:
    return seed_unit(run.seed, run.name, run.copy_of(model))


def layer_label(la: str, lb: str) -> str:
    return la if la == lb else f"{la}~{lb}"


def live_rows(run: Run) -> list[dict]:
    """metrics/alignment.csv of one run: pairs of models as ``archA~archB``, one model as its
    architecture; layers ``h1`` or ``h1~h2`` when the two differ. Every copy of an ensemble is
    one value (its seed unit in ``seed``, ``copy``). Live seed-vs-seed rows (two copies of one
    member) are left out: the cross-run part computes every seed pair from the snapshots, those
    within a job and those across jobs alike."""
    out = []
    for row in read_alignment_csv(run.path):
        a, b = row["member_a"], row["member_b"]
        if a != b and run.member_of(a) == run.member_of(b):
            continue
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
                "seed": run.seed,
                "copy": run.copy_of(a),
                "units": tuple(dict.fromkeys((unit_of(run, a), unit_of(run, b)))),
            }
        )
    return out


def model_row(run: Run, model: str, epoch, metric: str, value, source: str) -> dict:
    """One value row of one model of ``run`` (no layer): its architecture and seed unit."""
    return {
        "dataset": run.dataset,
        "arch": run.arch(model),
        "epoch": epoch,
        "layer": None,
        "metric": metric,
        "value": value,
        "source": source,
        "run": run.name,
        "seed": run.seed,
        "copy": run.copy_of(model),
        "units": (unit_of(run, model),),
    }


def curve_rows(run: Run) -> list[dict]:
    """Validation accuracy / loss and train loss per epoch from the CSV logs; ``epoch`` counts the
    epochs trained (the snapshot convention, :func:`read_metrics_csv`)."""
    out = []
    for epoch, values in sorted(read_metrics_csv(run.path).items()):
        for model in run.models:
            for pattern, metric in CURVE_METRICS.items():
                value = values.get(pattern.format(m=model))
                if value is not None:
                    out.append(model_row(run, model, epoch, metric, value, "live"))
    return out


def convergence_rows(run: Run, fraction: float = DEFAULT_FRACTION) -> list[dict]:
    """Per model, from its validation-accuracy curve in the CSV logs (source ``final``):
    ``epochs_to_target`` / ``steps_to_target`` (first epoch / step with accuracy >= fraction x
    its best) and ``val_acc_auc`` (mean validation accuracy over the epochs trained); see
    :mod:`xmsem.runs.convergence`."""
    logged = read_metrics_csv(run.path)
    out = []
    for model in run.models:
        key = f"val/{model}/acc"
        epochs = sorted(e for e, values in logged.items() if key in values)
        if not epochs:
            continue
        acc = [logged[e][key] for e in epochs]
        steps = [logged[e].get("step", float("nan")) for e in epochs]
        found = {
            "epochs_to_target": epochs_to_fraction(acc, fraction),
            "steps_to_target": steps_to_fraction(acc, steps, fraction),
            "val_acc_auc": accuracy_auc(acc),
        }
        for metric, value in found.items():
            out.append(model_row(run, model, None, metric, value, "final"))
    return out


def final_rows(run: Run) -> list[dict]:
    """Final test accuracy / loss, best validation accuracy and its epoch, parameter count (per
    model; a copy's parameter count is its member's when only that is recorded)."""
    out = []
    for model in run.models:
        found = {
            metric: run.results.get(pattern.format(m=model))
            for pattern, metric in FINAL_METRICS.items()
        }
        params = run.parameters.get(model, run.parameters.get(run.member_of(model)))
        if params is not None:
            found["parameters"] = params
        for metric, value in found.items():
            if value is not None:
                out.append(model_row(run, model, None, metric, float(value), "final"))
    return out


def arch_order(runs: Iterable[Run]) -> dict[str, int]:
    """A rank per architecture: non-MLP types first (so pairs read ``pgnn~mlp`` as in the live
    cohort and relative differences are (PGNN - MLP) / MLP), then order of first appearance."""
    seen: dict[str, tuple[int, int]] = {}
    for run in runs:
        for model in run.models:
            arch = run.arch(model)
            if arch not in seen:
                seen[arch] = (int(run.arch_type(model) == "mlp"), len(seen))
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
    """dataset -> architecture (ranked by ``order``) -> instances (every copy of every member)."""
    out: dict[str, dict[str, list[Instance]]] = {}
    for run in runs:
        for model, (_, copy) in run.models.items():
            arch = run.arch(model)
            inst = Instance(run, model, arch, copy)
            out.setdefault(run.dataset, {}).setdefault(arch, []).append(inst)
    return {
        ds: dict(sorted(g.items(), key=lambda kv: order.get(kv[0], 1 << 30)))
        for ds, g in out.items()
    }
