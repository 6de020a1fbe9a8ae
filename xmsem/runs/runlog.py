"""``train.log`` of a run folder, written only by an attempt that trains.

Hydra opens the job's log file before the task starts, so a refused or skipped rerun would append
to it. :class:`RunLogHandler` (conf/hydra/default.yaml, ``job_logging.handlers.file``) holds the
records in memory until :func:`start_run_logs` says the attempt trains; then they are written
and the file stays open. A handler never started writes nothing (its records stay on the console).

Kept free of torch and of the rest of xmsem: Hydra imports it while configuring logging.
"""

from __future__ import annotations

import logging

_MAX_HELD = 10_000  # records held before a start; older ones are dropped beyond this


class RunLogHandler(logging.FileHandler):
    """A FileHandler that opens its file only when :meth:`start` is called."""

    def __init__(self, filename: str, mode: str = "a", encoding: str | None = "utf-8") -> None:
        super().__init__(filename, mode=mode, encoding=encoding, delay=True)
        self.held: list[logging.LogRecord] | None = []

    def emit(self, record: logging.LogRecord) -> None:
        if self.held is None:
            super().emit(record)
        elif len(self.held) < _MAX_HELD:
            self.held.append(record)

    def start(self) -> None:
        """Write the held records and everything from now on to the file."""
        held, self.held = self.held or [], None
        for record in held:
            super().emit(record)

    def close(self) -> None:
        self.held = [] if self.held is not None else None  # held records of a refusal: dropped
        super().close()


def start_run_logs() -> int:
    """Start every :class:`RunLogHandler` of the root logger; how many there were."""
    handlers = [h for h in logging.getLogger().handlers if isinstance(h, RunLogHandler)]
    for handler in handlers:
        handler.start()
    return len(handlers)
