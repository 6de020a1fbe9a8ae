"""Discovery of the runs of a sweep directory and of the model instances they hold.

A *run* is a job folder (``.hydra/config.yaml`` and/or ``status.json``); a *model instance* is
(run, model). A run with ``ensemble=K > 1`` trains K copies of every member, each its own model
``<member>.<k>``; otherwise the models are the members. An instance's *architecture* is its member
name (without the copy suffix) plus the run's overrides other than the seed, the dataset choice,
the ``model=...`` group choice, ``ensemble`` and the bookkeeping keys Hydra's folder name leaves
out too (``pgnn``, ``pgnn[model.pgnn.shaping=none]``); its *seed unit* is (run seed, copy), copy
0 for a plain run (copy 0 of an ensemble is initialised like the plain member). Instances are
grouped by (dataset, architecture); the seed units of one group are what the cross-run analysis
compares, so 20 copies in one job are analysed like 20 jobs.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf

from xmsem.models.naming import model_names
from xmsem.runs.status import RunStatus, results_in_epochs_trained
from xmsem.snapshots import MeasureSettings, SnapshotStore
from xmsem.snapshots.table import TableError, read_rows

# override keys that do not define an architecture (the dataset is its own grouping key)
_IGNORED_KEYS = {
    "seed",
    "ensemble",
    "first_copy",
    "model",
    "data",
    "data.name",
    "experiment",
    "force",
    "launcher",
    "name",
    "logger",
    "callbacks",
    "trainer.accelerator",
    "trainer.devices",
}
_IGNORED_PREFIXES = ("hydra.", "paths.", "callbacks.", "logger.")


class AnalysisError(Exception):
    """A sweep that cannot be analysed (one-line message)."""


@dataclass(eq=False)
class Run:
    """One job folder of a sweep (hashed by identity)."""

    path: Path
    name: str
    state: str  # completed | failed | incomplete
    error: str | None = None
    dataset: str = "?"
    seed: int | None = None
    overrides: list[str] = field(default_factory=list)
    members: dict[str, dict[str, Any]] = field(default_factory=dict)  # member -> spec
    ensemble: int = 1  # copies of every member (``ensemble`` config key)
    first_copy: int = 0  # index of the first copy (``first_copy`` config key)
    results: dict[str, Any] = field(default_factory=dict)
    parameters: dict[str, int] = field(default_factory=dict)
    # override keys that label a variant: those that differ between the runs of the sweep
    # (None: every architecture-defining override; see :func:`label_varying_keys`)
    variant_keys: frozenset[str] | None = None
    # the measurement settings the run stored (callbacks.representations); None: none readable
    settings: MeasureSettings | None = None

    @property
    def store(self) -> SnapshotStore:
        return SnapshotStore(self.path)

    @property
    def models(self) -> dict[str, tuple[str, int | None]]:
        """model name -> (member, copy): ``pgnn.3`` -> (pgnn, 3); ``pgnn`` -> (pgnn, None)."""
        return model_names(list(self.members), self.ensemble, self.first_copy)

    def member_of(self, model: str) -> str:
        return self.models.get(model, (model, None))[0]

    def copy_of(self, model: str) -> int | None:
        return self.models.get(model, (model, None))[1]

    def arch(self, model: str) -> str:
        """The architecture key of ``model`` (a member or a copy of one) in this run."""
        return architecture_key(self.member_of(model), self.overrides, self.variant_keys)

    def arch_type(self, model: str) -> str:
        """The member spec's ``arch`` (``pgnn``, ``mlp``, ...), the member name when unknown."""
        member = self.member_of(model)
        return str(self.members.get(member, {}).get("arch", member))


def _override_key(override: str) -> str:
    return override.split("=", 1)[0].lstrip("+~")


def _defining(key: str) -> bool:
    return not (key in _IGNORED_KEYS or key.startswith(_IGNORED_PREFIXES))


def architecture_key(member: str, overrides: list[str], keys: frozenset[str] | None = None) -> str:
    """``member`` plus the architecture-defining overrides (only those in ``keys`` when given),
    sorted: ``pgnn[k=v,...]``."""
    kept = []
    for item in overrides:
        key = _override_key(item)
        if not _defining(key) or (keys is not None and key not in keys):
            continue
        kept.append(item.lstrip("+"))
    return f"{member}[{','.join(sorted(kept))}]" if kept else member


def label_varying_keys(runs: list[Run]) -> frozenset[str]:
    """Label variants by the overrides that vary across ``runs`` only: a key set to the same
    value in every run (``trainer.max_epochs=2`` for the whole sweep) names no variant, so it is
    left out of every architecture key (``pgnn``, not ``pgnn[trainer.max_epochs=2]``). Sets
    ``variant_keys`` of every run; returns the varying keys."""
    per_run = [
        {_override_key(o): o.lstrip("+") for o in r.overrides if _defining(_override_key(o))}
        for r in runs
    ]
    keys = set().union(*per_run) if per_run else set()
    varying = frozenset(k for k in keys if len({d.get(k) for d in per_run}) > 1)
    for run in runs:
        run.variant_keys = varying
    return varying


def _is_run_dir(path: Path) -> bool:
    return (path / ".hydra" / "config.yaml").is_file() or (path / "status.json").is_file()


def find_run_dirs(sweep_dir: Path, exclude: Path | None = None, depth: int = 2) -> list[Path]:
    """Job folders under ``sweep_dir`` (searched ``depth`` levels deep), sorted by path."""
    found: list[Path] = []
    frontier = [sweep_dir]
    for _ in range(depth):
        nxt = []
        for folder in frontier:
            for child in sorted(p for p in folder.iterdir() if p.is_dir()):
                if child.name.startswith(".") or (exclude and child.resolve() == exclude.resolve()):
                    continue
                (found if _is_run_dir(child) else nxt).append(child)
        frontier = nxt
    return sorted(found)


def _plain(node: Any) -> Any:
    """A plain copy of a config node without resolving interpolations (``${hydra:...}``)."""
    return OmegaConf.to_container(node, resolve=False) if OmegaConf.is_config(node) else node


def read_run(path: Path, sweep_dir: Path) -> Run:
    """The :class:`Run` of a job folder; broken pieces make it failed/incomplete, never raise."""
    run = Run(path=path, name=str(path.relative_to(sweep_dir)), state="incomplete")
    status = RunStatus(path).read()
    if status is None:
        run.error = "no status.json (never started or unreadable)"
    else:
        state = status.get("state")
        run.state = state if state in ("completed", "failed") else "incomplete"
        run.error = status.get("error")
        if run.state == "incomplete" and not run.error:
            run.error = f"state {state!r}: still running or interrupted"
        run.results = results_in_epochs_trained(status)
        run.parameters = dict(status.get("parameters") or {})
        run.overrides = [str(o) for o in status.get("overrides") or []]
    try:
        cfg = OmegaConf.load(path / ".hydra" / "config.yaml")
        run.dataset = str(cfg.data.name)
        seed = cfg.get("seed")
        run.seed = int(seed) if seed is not None else None
        run.members = {str(k): dict(_plain(v)) for k, v in cfg.model.items()}
        run.ensemble = int(cfg.get("ensemble") or 1)
        run.first_copy = int(cfg.get("first_copy") or 0)
        rep = (cfg.get("callbacks") or {}).get("representations")
        with contextlib.suppress(Exception):  # a config of another version: schema defaults
            run.settings = MeasureSettings.of(rep) if rep is not None else None
    except Exception as err:  # noqa: BLE001 - a broken run is listed, not fatal
        run.state = "failed" if run.state == "completed" else run.state
        run.error = run.error or f"unreadable .hydra/config.yaml: {type(err).__name__}: {err}"
    overrides_file = path / ".hydra" / "overrides.yaml"
    if overrides_file.is_file():
        with contextlib.suppress(Exception):
            run.overrides = [str(o) for o in OmegaConf.load(overrides_file)]
    return run


def discover(sweep_dir: Path, exclude: Path | None = None) -> list[Run]:
    """Every run of ``sweep_dir``; AnalysisError when the folder is missing or holds no runs."""
    sweep_dir = Path(sweep_dir)
    if not sweep_dir.is_dir():
        raise AnalysisError(f"sweep dir {sweep_dir} does not exist")
    runs = [read_run(p, sweep_dir) for p in find_run_dirs(sweep_dir, exclude)]
    if not runs:
        raise AnalysisError(f"sweep dir {sweep_dir} holds no runs (no job folder with status.json)")
    return runs


# --------------------------------------------------------------------------- per-run files
def _version_number(path: Path) -> int:
    tail = path.parent.name.rsplit("_", 1)[-1]
    return int(tail) if tail.isdigit() else -1


def _epochs_trained(row: dict[str, str]) -> int:
    """The epochs trained of a logger row: its ``epochs_trained`` column; in logs written before
    that column existed, Lightning's 0-based ``epoch`` index + 1 (ValueError: neither)."""
    if row.get("epochs_trained") not in (None, ""):
        return int(float(row["epochs_trained"]))
    return int(float(row.get("epoch") or "")) + 1


def read_metrics_csv(run_dir: Path) -> dict[int, dict[str, float]]:
    """The Lightning CSV logs of a run merged over ``csv/version_*`` (a later version wins for the
    same epoch and column): epochs trained -> {column: value} (:mod:`xmsem.lit.epochs`; older
    logs, whose ``epoch`` column held Lightning's 0-based index, are read in the same
    convention). Sparse rows are merged per epoch; ``step`` is the step of the epoch's last
    logged row."""
    merged: dict[int, dict[str, float]] = {}
    versions = sorted((Path(run_dir) / "csv").glob("version_*/metrics.csv"), key=_version_number)
    for path in versions:
        with path.open(newline="") as handle:
            for row in csv.DictReader(handle):
                try:
                    epoch = _epochs_trained(row)
                except ValueError:
                    continue
                target = merged.setdefault(epoch, {})
                for key, value in row.items():
                    if key in ("epoch", "epochs_trained") or value in (None, ""):
                        continue
                    try:
                        target[key] = float(value)
                    except ValueError:
                        continue
    return merged


def read_alignment_csv(run_dir: Path) -> list[dict[str, Any]]:
    """The live alignment rows of ``metrics/alignment.csv`` with numeric epoch and value (empty
    when absent). A torn, ragged or duplicated row stops the analysis with one line naming the
    file and line (:class:`AnalysisError`); a row whose number does not parse is skipped."""
    try:
        table = read_rows(run_dir)
    except TableError as err:  # a torn or duplicated row would be averaged in: refuse, one line
        raise AnalysisError(str(err)) from None
    rows = []
    for row in table:
        try:
            row["epoch"] = int(row["epoch"])
            row["value"] = float(row["value"])
        except (KeyError, TypeError, ValueError):
            continue
        rows.append(row)
    return rows


def probe_fingerprint(run: Run) -> str | None:
    """SHA1 of the probe-set indices of a run (None when it has no readable probe file).

    A probe file that holds code (a planted pickle payload) is not loaded and stops the
    analysis in one line naming it: the folder was tampered with, not merely damaged."""
    from xmsem.runs.safeload import UnsafeFile

    try:
        probe = run.store.load_probe()
    except UnsafeFile as err:
        raise AnalysisError(str(err)) from None
    except (OSError, RuntimeError, EOFError, ValueError):  # truncated or not a torch file
        return None
    data = probe["indices"].contiguous().cpu().numpy().tobytes()
    return hashlib.sha1(data).hexdigest()[:16]
