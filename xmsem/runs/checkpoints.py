"""Checkpoints that survive crashes: atomic writes on the run's own filesystem, a config stamp in
every checkpoint, and the choice of which checkpoint a rerun resumes from.

Lightning's own writer serialises into a temp location and moves it onto the target, which is a
copy (not atomic) when /tmp is another filesystem: a full disk or a kill leaves a truncated
``last.ckpt``. :class:`AtomicCheckpointIO` writes a temp file in the checkpoint's own folder,
fsyncs it and renames it over the target instead.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from lightning.pytorch.callbacks import Callback
from lightning.pytorch.plugins.io import TorchCheckpointIO

from xmsem.runs.atomic import atomic_torch_save
from xmsem.runs.fingerprint import RunConflict, describe_difference
from xmsem.runs.safeload import load_plain

log = logging.getLogger("xmsem.runs")
STAMP_KEY = "xmsem_run"  # {"fingerprint": str, "config": {dotted key: value}}


class AtomicCheckpointIO(TorchCheckpointIO):
    """``torch.save`` into a temp file beside the target, fsync, rename (never a partial file)."""

    def save_checkpoint(
        self, checkpoint: dict[str, Any], path: Any, storage_options: Any | None = None
    ) -> None:
        atomic_torch_save(checkpoint, Path(path))


class FingerprintStamp(Callback):
    """Writes the run's config fingerprint into every checkpoint Lightning saves."""

    def __init__(self, fingerprint: str, items: Mapping[str, Any]) -> None:
        self.fingerprint, self.items = fingerprint, dict(items)

    def on_save_checkpoint(self, trainer, pl_module, checkpoint: dict[str, Any]) -> None:
        checkpoint[STAMP_KEY] = {"fingerprint": self.fingerprint, "config": self.items}


def _readable(path: Path) -> dict[str, Any] | None:
    """The checkpoint's content, or None when it cannot be read (truncated, not a checkpoint, or
    holding anything but tensors and plain containers: ``weights_only=True`` never runs a pickled
    object's code)."""
    try:
        data = load_plain(path)
    except Exception:  # a truncated zip raises RuntimeError, garbage UnpicklingError, ...
        return None
    return data if isinstance(data, dict) and "state_dict" in data else None


def _candidates(folder: Path) -> list[Path]:
    """``last.ckpt`` first, then the other checkpoints newest first."""
    if not folder.is_dir():
        return []
    others = sorted(
        (p for p in folder.glob("*.ckpt") if p.name != "last.ckpt"),
        key=lambda p: p.stat().st_mtime,
        reverse=True,
    )
    last = folder / "last.ckpt"
    return ([last] if last.is_file() else []) + others


def inspect_checkpoints(
    folder: Path, fingerprint: str, items: Mapping[str, Any]
) -> tuple[Path | None, list[Path]]:
    """The newest intact checkpoint of this config in ``folder`` (None: start over) and the
    unreadable ones tried before it, without changing anything on disk.

    A readable checkpoint stamped with another fingerprint raises :class:`RunConflict` naming the
    differing keys (it is never resumed).
    """
    unreadable: list[Path] = []
    for path in _candidates(Path(folder)):
        data = _readable(path)
        if data is None:
            unreadable.append(path)
            continue
        stamp = data.get(STAMP_KEY) or {}
        if stamp.get("fingerprint") not in (None, fingerprint):
            raise RunConflict(
                f"{path} was written by another config ({describe_difference(stamp.get('config') or {}, items)}); "
                "rerun with force=true to retire it and start this config afresh"
            )
        return path, unreadable
    return None, unreadable


def quarantine(unreadable: list[Path], chosen: Path | None) -> None:
    """Rename unreadable checkpoints ``<name>.corrupt`` (never tried again), with one line."""
    if not unreadable:
        return
    for path in unreadable:
        if path.is_file():
            path.replace(path.with_name(path.name + ".corrupt"))
    names = ", ".join(p.name for p in unreadable)
    if chosen is not None:
        log.warning(
            "xmsem: %s unreadable (truncated?); resuming from %s instead", names, chosen.name
        )
    else:
        log.warning(
            "xmsem: %s unreadable (truncated?) and no intact checkpoint left; starting over", names
        )


def choose_checkpoint(folder: Path, fingerprint: str, items: Mapping[str, Any]) -> Path | None:
    """:func:`inspect_checkpoints`, then unreadable checkpoints renamed ``<name>.corrupt``."""
    chosen, unreadable = inspect_checkpoints(folder, fingerprint, items)
    quarantine(unreadable, chosen)
    return chosen
