"""What a run directory holds and how it is written: atomic files, status.json, logged metrics."""

from xmsem.runs.atomic import atomic_torch_save, atomic_write_bytes, atomic_write_text
from xmsem.runs.status import RunStatus, environment_info

__all__ = [
    "RunStatus",
    "atomic_torch_save",
    "atomic_write_bytes",
    "atomic_write_text",
    "environment_info",
]
