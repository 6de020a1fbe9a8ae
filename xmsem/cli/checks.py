"""Checks of the command line that Hydra would otherwise report in many lines.

``data=foo`` (an option that is not a file of the group) becomes one line naming the group and
its valid options, printed before Hydra composes anything. The options of a group are the .yaml
files of that group in every config directory Hydra will search: the package's ``conf/``, a
``--config-dir`` / ``-cd`` directory, a ``--config-path`` / ``-cp`` primary directory, and the
``hydra.searchpath`` entries (``file://DIR``, ``pkg://package.sub`` or a plain path) given on the
command line or in the primary config; so a user's own ``data=mydata`` or ``model=mynet`` passes.
"""

from __future__ import annotations

import re
from pathlib import Path

_GROUP_OVERRIDE = re.compile(r"^\+{0,2}([A-Za-z_][A-Za-z0-9_/]*)(?:@[^=]*)?=(.*)$")
_SWEEP_SYNTAX = set("()[]{}$")
_SEARCHPATH = re.compile(r"^\+{0,2}hydra\.searchpath=\[?(.*?)\]?$")
_DIR_FLAGS = ("--config-dir", "-cd", "--config-path", "-cp")


def group_options(conf_dir: Path | list[Path], group: str) -> list[str]:
    """Names of the configs of ``group`` (the .yaml files of <dir>/<group>/ in every dir)."""
    dirs = conf_dir if isinstance(conf_dir, list) else [conf_dir]
    return sorted({p.stem for d in dirs for p in (Path(d) / group).glob("*.yaml")})


def _resolve(entry: str) -> Path | None:
    """A search-path entry as a directory: ``file://DIR``, ``pkg://pkg.sub``, or a plain path."""
    entry = entry.strip().strip("'\"")
    if not entry:
        return None
    if entry.startswith("pkg://"):
        import importlib.util

        name = entry[len("pkg://") :].replace("/", ".")
        top, _, rest = name.partition(".")
        try:
            spec = importlib.util.find_spec(top)
        except (ImportError, ValueError):
            return None
        if spec is None or not spec.submodule_search_locations:
            return None
        return Path(next(iter(spec.submodule_search_locations))) / rest.replace(".", "/")
    return Path(entry.removeprefix("file://")).expanduser()


def _primary_searchpath(conf_dir: Path) -> list[str]:
    """``hydra.searchpath`` declared in the primary config (conf/config.yaml), if any."""
    try:
        from omegaconf import OmegaConf

        node = OmegaConf.load(conf_dir / "config.yaml")
        return [str(e) for e in (node.get("hydra") or {}).get("searchpath") or []]
    except Exception:  # noqa: BLE001 - an unreadable primary config is Hydra's error to report
        return []


def config_dirs(argv: list[str], conf_dir: Path) -> list[Path]:
    """Every config directory Hydra will search for this command line, ``conf_dir`` first."""
    dirs = [conf_dir]
    entries = _primary_searchpath(conf_dir)
    for i, arg in enumerate(argv):
        flag, eq, value = arg.partition("=")
        if flag in _DIR_FLAGS:
            value = value if eq else (argv[i + 1] if i + 1 < len(argv) else "")
            entries.append(value)
            continue
        match = _SEARCHPATH.match(arg)
        if match:
            entries += match.group(1).split(",")
    for entry in entries:
        folder = _resolve(entry)
        if folder is not None:
            dirs.append(folder.resolve() if not folder.is_absolute() else folder)
    return dirs


def check_group_overrides(argv: list[str], conf_dir: Path) -> str | None:
    """The first problem with a config-group choice on the command line, or None.

    Only plain choices are checked (``group=a`` or a comma-separated sweep ``group=a,b``); sweep
    functions like ``choice(...)`` are left to Hydra. A group is known when any searched config
    directory has it (:func:`config_dirs`).
    """
    dirs = config_dirs(argv, conf_dir)
    skip_next = False
    for arg in argv:
        if skip_next:
            skip_next = False
            continue
        if arg.startswith("-"):
            skip_next = arg in _DIR_FLAGS or arg in ("--config-name", "-cn")
            continue
        match = _GROUP_OVERRIDE.match(arg)
        if not match:
            continue
        group, value = match.groups()
        if not any((d / group).is_dir() for d in dirs) or _SWEEP_SYNTAX & set(value):
            continue
        valid = group_options(dirs, group)
        for option in (v.strip() for v in value.split(",")):
            if option in ("null", "") or option in valid:
                continue
            return f"{group}={option} is not a known {group}; valid: {', '.join(valid)}"
    return None
