"""Checks of the command line that Hydra would otherwise report in many lines.

``data=foo`` (an option that is not a file of the group) becomes one line naming the group and
its valid options, printed before Hydra composes anything.
"""

from __future__ import annotations

import re
from pathlib import Path

_GROUP_OVERRIDE = re.compile(r"^\+{0,2}([A-Za-z_][A-Za-z0-9_/]*)(?:@[^=]*)?=(.*)$")
_SWEEP_SYNTAX = set("()[]{}$")


def group_options(conf_dir: Path, group: str) -> list[str]:
    """Names of the configs of ``group`` (the .yaml files of conf/<group>/)."""
    return sorted(p.stem for p in (conf_dir / group).glob("*.yaml"))


def check_group_overrides(argv: list[str], conf_dir: Path) -> str | None:
    """The first problem with a config-group choice on the command line, or None.

    Only plain choices are checked (``group=a`` or a comma-separated sweep ``group=a,b``); sweep
    functions like ``choice(...)`` are left to Hydra.
    """
    for arg in argv:
        if arg.startswith("-"):
            continue
        match = _GROUP_OVERRIDE.match(arg)
        if not match:
            continue
        group, value = match.groups()
        if not (conf_dir / group).is_dir() or _SWEEP_SYNTAX & set(value):
            continue
        valid = group_options(conf_dir, group)
        for option in (v.strip() for v in value.split(",")):
            if option in ("null", "") or option in valid:
                continue
            return f"{group}={option} is not a known {group}; valid: {', '.join(valid)}"
    return None
