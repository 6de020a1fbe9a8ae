"""SIGTERM and SIGINT end a run honestly: a flag, checked between pieces of work, then
:class:`Interrupted`; the run records ``interrupted`` and the process exits 128 + signal
(143 for SIGTERM, what SLURM and ``timeout`` send; 130 for Ctrl-C).

Why a flag rather than an exception raised from the handler: a handler that raises can land in
the middle of a checkpoint or a snapshot file; the flag is read where stopping is clean (after a
training batch, between the pieces of a snapshot), which is within seconds. A second signal of
the same run does not wait: it raises at once. Lightning installs its own SIGTERM handler during
``fit`` and calls the one installed before it, so the flag is set either way (Lightning then
raises its ``SIGTERMException``, a ``SystemExit`` with code 0, which xmsem turns into this).
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from typing import Any

log = logging.getLogger("xmsem.runs")
HANDLED = (signal.SIGTERM, signal.SIGINT)


class Interrupted(BaseException):  # noqa: N818 - like KeyboardInterrupt: not an error of the run
    """The process received SIGTERM or SIGINT; ``exit_code`` is 128 + the signal number."""

    def __init__(self, signum: int) -> None:
        self.signum = int(signum)
        super().__init__(f"interrupted by {signal.Signals(self.signum).name}")

    @property
    def exit_code(self) -> int:
        return 128 + self.signum


_received: int | None = None
_installed: dict[int, Any] = {}


def received() -> int | None:
    """The signal received since :func:`install` (None: none)."""
    return _received


def raise_if_interrupted() -> None:
    """Raise :class:`Interrupted` when a handled signal has arrived (cheap: call it often)."""
    if _received is not None:
        raise Interrupted(_received)


def _handler(signum: int, frame: Any) -> None:
    global _received
    if _received is not None:  # the second signal: do not wait for the next check
        raise Interrupted(signum)
    _received = signum
    log.warning(
        "xmsem: received %s: stopping at the next clean point (send it again to stop at once)",
        signal.Signals(signum).name,
    )


def install() -> bool:
    """Route SIGTERM and SIGINT to the flag (main thread only; idempotent). True if installed."""
    if threading.current_thread() is not threading.main_thread():
        return False
    for signum in HANDLED:
        current = signal.getsignal(signum)
        if current is not _handler:
            _installed.setdefault(signum, current)
            signal.signal(signum, _handler)
    return True


def reset() -> None:
    """Forget a received signal (tests)."""
    global _received
    _received = None


def interrupt_from(err: BaseException) -> Interrupted | None:
    """The :class:`Interrupted` that ``err`` stands for: itself, Lightning's SIGTERMException or
    a KeyboardInterrupt (a signal raised before :func:`install`), else None."""
    if isinstance(err, Interrupted):
        return err
    if isinstance(err, KeyboardInterrupt):
        return Interrupted(signal.SIGINT)
    if type(err).__name__ == "SIGTERMException" or (
        isinstance(err, SystemExit) and _received is not None
    ):
        return Interrupted(_received or signal.SIGTERM)
    return None


def stop_callback() -> Callable[..., Any]:
    """A Lightning callback that stops training/validation/testing after the current batch."""
    from lightning.pytorch.callbacks import Callback

    class StopOnSignal(Callback):
        def on_train_batch_end(self, *args: Any, **kwargs: Any) -> None:
            raise_if_interrupted()

        def on_validation_batch_end(self, *args: Any, **kwargs: Any) -> None:
            raise_if_interrupted()

        def on_test_batch_end(self, *args: Any, **kwargs: Any) -> None:
            raise_if_interrupted()

        def on_train_epoch_start(self, *args: Any, **kwargs: Any) -> None:
            raise_if_interrupted()

    return StopOnSignal()
