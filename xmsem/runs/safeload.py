"""Reading back files: tensors and plain containers only, never a pickled object's code.

``torch.load(weights_only=False)`` executes whatever a file's pickle says (a planted
``__reduce__`` runs as the user). Every file xmsem reads back (snapshots, probe sets,
checkpoints, weights named in a model file) goes through :func:`load_plain`, which loads with
``weights_only=True`` and turns a refusal into one line naming the file.
"""

from __future__ import annotations

import pickle
import re
from pathlib import Path
from typing import Any

import torch


class UnreadableFile(ValueError):
    """A file could not be read back as tensors and plain containers (one line)."""


class UnsafeFile(UnreadableFile):
    """A file holds objects other than tensors and plain containers; it was not loaded."""


def load_plain(path: str | Path, map_location: Any = "cpu") -> Any:
    """``torch.load(path, weights_only=True)``; :class:`UnsafeFile` (one line) when the file asks
    for anything else (a class, a function, a ``__reduce__``)."""
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as err:
        text = str(err)
        found = re.search(r"(?i)unsupported global:? (?:GLOBAL )?([\w.]+)", text)
        if found is None:  # garbage (e.g. "Unsupported operand"), not a refused object
            detail = re.search(r"(Unsupported operand \w+|[Ii]nvalid load key[^\n]*)", text)
            raise UnreadableFile(
                f"{path}: not a readable tensor file "
                f"({detail.group(1) if detail else 'unpickling failed'}; truncated or not torch.save)"
            ) from None
        what = f" ({found.group(1)})" if found else ""
        raise UnsafeFile(
            f"{path}: refused to load: it holds more than tensors and plain containers{what}; "
            "xmsem never runs code from a file (recreate it with this version of xmsem)"
        ) from None
