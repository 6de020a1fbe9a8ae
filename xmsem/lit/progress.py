"""What a run prints while it trains: one line per epoch (epoch k/N, train loss and validation
accuracy per model, seconds, ETA), and a quiet Lightning (no doubled lines, no tips).

The line of epoch k is printed when epoch k's metrics are complete: Lightning calls callbacks'
``on_train_epoch_end`` *before* the module's (where the train metrics are computed), so the line
is written at the start of the next epoch, or at the end of training for the last one.
"""

from __future__ import annotations

import logging
import re
import time
import warnings
from collections.abc import Mapping, Sequence

import lightning as L

from xmsem.launch.progress import duration
from xmsem.lit.cohort import split_model_name

log = logging.getLogger("xmsem.train")


def architecture(model: str) -> str:
    """The architecture of a model name: ``pgnn.3`` -> ``pgnn`` (ensemble copies), else itself."""
    return split_model_name(model)[0]


def per_model(values: Mapping[str, float], digits: int = 3) -> str:
    """``pgnn 0.861 mlp 0.857``; copies of one architecture as ``pgnn 0.861 [0.850-0.870] x20``
    (mean, range and count), so a 20-copy ensemble stays one short line."""
    groups: dict[str, list[float]] = {}
    for model, value in values.items():
        groups.setdefault(architecture(model), []).append(value)
    parts = []
    for arch, vals in groups.items():
        if len(vals) == 1:
            parts.append(f"{arch} {vals[0]:.{digits}f}")
        else:
            mean = sum(vals) / len(vals)
            parts.append(f"{arch} {mean:.{digits}f} [{min(vals):.{digits}f}-"
                         f"{max(vals):.{digits}f}] x{len(vals)}")  # fmt: skip
    return " ".join(parts)


def _stage_values(metrics: Mapping[str, object], stage: str, key: str) -> dict[str, float]:
    """``{model: value}`` of the logged ``<stage>/<model>/<key>`` metrics."""
    out = {}
    for name, value in metrics.items():
        parts = name.split("/")
        if len(parts) == 3 and parts[0] == stage and parts[2] == key:
            out[parts[1]] = float(value)
    return out


class EpochLines(L.Callback):
    """One log line per finished epoch: ``epoch k/N | train loss ... | val acc ... | 4.1s |
    ETA 1m10s`` (ETA = mean seconds of the epochs so far x epochs left)."""

    def __init__(self, prefix: str = "") -> None:
        self.prefix = prefix
        self._start: float | None = None
        self._pending: int | None = None  # epoch whose line is still to be written
        self.seconds: list[float] = []
        self.lines: list[str] = []

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._flush(trainer)
        self._start = time.perf_counter()

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._pending = trainer.current_epoch

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._flush(trainer)

    def _flush(self, trainer: L.Trainer) -> None:
        if self._pending is None or self._start is None:
            return
        seconds = time.perf_counter() - self._start
        self.seconds.append(seconds)
        done, total = self._pending + 1, trainer.max_epochs
        self._pending = None
        metrics = trainer.callback_metrics
        parts = [f"{self.prefix}epoch {done}/{total}"]
        loss = _stage_values(metrics, "train", "loss")
        acc = _stage_values(metrics, "val", "acc")
        if loss:
            parts.append(f"train loss {per_model(loss)}")
        if acc:
            parts.append(f"val acc {per_model(acc)}")
        parts.append(f"{seconds:.1f}s")
        left = max(0, (total or done) - done)
        mean = sum(self.seconds) / len(self.seconds)
        parts.append(f"ETA {duration(mean * left)}" if left else "done")
        line = " | ".join(parts)
        self.lines.append(line)
        log.info(line)


def quiet_lightning(progress_bar: bool) -> None:
    """One copy of each Lightning message and none of its chatter: Lightning's own console
    handler is dropped (the job's handlers print what propagates), its INFO lines (accelerator
    inventory, tips, "max_epochs reached") are hidden unless the progress bar is on, and known
    irrelevant warnings are filtered."""
    for name in ("lightning.pytorch", "lightning.fabric", "lightning"):
        logger = logging.getLogger(name)
        for handler in list(logger.handlers):
            if type(handler) is logging.StreamHandler:
                logger.removeHandler(handler)
        logger.propagate = True
        logger.setLevel(logging.INFO if progress_bar else logging.WARNING)
    for message in _IRRELEVANT:
        warnings.filterwarnings("ignore", message=message)


# warnings that say nothing about the user's run (library internals, by design choices of ours)
_IRRELEVANT: Sequence[str] = (
    r".*isinstance\(treespec, LeafSpec\)` is deprecated.*",
    r".*does not have many workers which may be a bottleneck.*",  # tensors on the device, by design
    r".*The number of training batches \(\d+\) is smaller than the logging interval.*",
    r".*Checkpoint directory .* exists and is not empty.*",  # a rerun continues its run folder
    # Lightning's hint on machines with SLURM tools installed; our SLURM launcher (submitit)
    # starts each job itself, so running outside srun is intended
    r".*The `srun` command is available on your system but is not used.*",
)


# --------------------------------------------------------------------------- end of a run


def _layer_key(layer: str) -> tuple:
    digits = re.sub(r"\D", "", layer)
    return (int(digits) if digits else -1, layer)


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    widths = [max(len(str(c)) for c in col) for col in zip(header, *rows, strict=True)]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    return [("  " + fmt.format(*r)).rstrip() for r in [header, *rows]]


def _mean_range(values: list[float]) -> str:
    mean = sum(values) / len(values)
    if len(values) == 1:
        return f"{mean:.3f}"
    return f"{mean:.3f} [{min(values):.3f}-{max(values):.3f}]"


def run_summary(
    results: Mapping[str, float], rows: Sequence[Mapping[str, str]], run_dir, analyze_dir
) -> str:
    """The end-of-run table: test and best validation accuracy per model; at the last snapshot,
    linear CKA (deepest shared layer), probe transfer and stitching between the architectures
    (ensemble copies pooled: mean [min-max]); where the rows are; the next command."""
    from xmsem.alignment import quantity
    from xmsem.alignment.registry import headline_metrics

    lines = [f"run finished: {run_dir}"]
    models = list(dict.fromkeys(k.split("/")[1] for k in results if k.count("/") == 2))
    table = []
    for m in models:
        test = results.get(f"test/{m}/acc")
        best = results.get(f"val/{m}/best_acc")
        epoch = results.get(f"val/{m}/best_epoch")
        table.append([m, "–" if test is None else f"{test:.3f}",
                      "–" if best is None else f"{best:.3f} (epoch {int(epoch)})"])  # fmt: skip
    if table:
        lines += _table(["model", "test acc", "best val acc"], table)
    summary = headline_metrics()
    pairs = [r for r in rows if r["member_a"] != r["member_b"] and r["metric"] in summary]
    if pairs:
        last = max(int(r["epoch"]) for r in pairs)
        pairs = [r for r in pairs if int(r["epoch"]) == last]
        # each number at the deepest layer it was measured at for its pair of models
        deepest: dict[tuple, str] = {}
        for r in pairs:
            key = (r["member_a"], r["member_b"], r["metric"])
            deepest[key] = max(deepest.get(key, r["layer_a"]), r["layer_a"], key=_layer_key)
        cells: dict[tuple[str, str, str], list[float]] = {}
        for r in pairs:
            if r["layer_a"] != deepest[(r["member_a"], r["member_b"], r["metric"])]:
                continue
            a, b = architecture(r["member_a"]), architecture(r["member_b"])
            cells.setdefault((a, b, r["metric"]), []).append(float(r["value"]))
            if quantity(r["metric"]).symmetric and a != b:
                cells.setdefault((b, a, r["metric"]), []).append(float(r["value"]))
        archs = list(dict.fromkeys(x for k in cells for x in k[:2]))
        header = ["A", "B"] + [quantity(m).label.split(" (")[0] for m in summary]
        body = []
        for a in archs:
            for b in archs:
                vals = [cells.get((a, b, m)) for m in summary]
                if any(vals):
                    body.append([a, b] + [_mean_range(v) if v else "–" for v in vals])
        if body:
            layers = sorted(set(deepest.values()), key=_layer_key)
            lines.append(f"alignment at the last snapshot (epoch {last}, layer {'/'.join(layers)}; "
                         "transfer ratio: A's probe on B's features over A's own accuracy; "
                         "stitching penalty: B's accuracy minus A stitched into B's tail):")  # fmt: skip
            lines += _table(header, body)
        lines.append(f"all alignment rows: {run_dir}/metrics/alignment.csv")
    lines.append(f"next: python -m xmsem.analyze {analyze_dir}")
    return "\n".join(lines)
