"""Run-level config choices that config validation checks before any heavy import (this module
imports nothing): what a run does when its training loss stops being finite."""

from __future__ import annotations

ON_DIVERGENCE = (
    "stop",
    "continue",
)  # stop: the run fails ("diverged during epoch e, ..."); continue: NaN metrics
