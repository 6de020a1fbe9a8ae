"""Checks of the command line's key overrides, before Hydra composes (one line each).

Hydra reports a misspelt key (``optim.lrr=1e-3``) in several lines and suggests ``+optim.lrr``,
which then fails elsewhere; a malformed override (``seed==3``) gets a grammar error; an output
folder that cannot be created fails inside Hydra with a traceback. Here each becomes one line:
the key with a did-you-mean from the composed config, the override that does not parse, the
folder that cannot be written.
"""

from __future__ import annotations

import difflib
import os
from pathlib import Path

_DIR_KEYS = ("hydra.run.dir", "hydra.sweep.dir", "paths.output_dir")
_CONFIG_FLAGS = ("--config-dir", "-cd", "--config-path", "-cp", "--config-name", "-cn")


def _flat_keys(node, prefix: str = "") -> list[str]:
    from omegaconf import DictConfig

    keys = []
    for key in node.keys() if isinstance(node, DictConfig) else []:
        full = f"{prefix}{key}"
        keys.append(full)
        try:
            child = node._get_node(key)
        except Exception:
            continue
        if isinstance(child, DictConfig):
            keys += _flat_keys(child, full + ".")
    return keys


_NAME_MAX = 255  # bytes of one path component on common file systems


def writable_dir_problem(value: str) -> str | None:
    """Why ``value`` cannot be an output folder (None when it can be created and written).

    Nothing is created: the nearest existing ancestor must be a writable folder, and no part of
    the path may exceed the file system's name limit."""
    if "${" in value:
        return None
    path = Path(value).expanduser().absolute()
    too_long = [p for p in path.parts if len(p.encode()) > _NAME_MAX]
    if too_long:
        return (f"cannot create the output folder {value}: a part of it is "
                f"{len(too_long[0].encode())} bytes long (at most {_NAME_MAX})")  # fmt: skip
    existing = path
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        return f"cannot create the output folder {value}: {existing} is not a folder"
    what = "is not writable" if existing == path else f"cannot be created in {existing}"
    try:  # root passes os.access everywhere (/proc too): try a file, removed at once
        probe = existing / f".xmsem-write-test-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as err:
        return f"cannot create or write the output folder {value}: it {what} ({err.strerror})"
    return None


def _string_value(ov) -> str:
    """The override's value as the program will see it (quotes of a quoted value removed)."""
    value = ov.value()
    return value if isinstance(value, str) else ov.get_value_element_as_str()


def check_key_overrides(argv: list[str], conf_dir: Path) -> str | None:
    """The first problem with a key override on the command line, or None.

    Parses every override with Hydra's grammar, composes the config once (group choices taken
    from the command line, the first one of a sweep list) and checks that each plain
    ``key=value`` override names an existing key. ``+key`` / ``++key`` / ``~key`` and ``hydra.*``
    keys are left to Hydra; so is everything when another config dir or name is chosen.
    """
    args = [a for a in argv if not a.startswith("-")]
    if any(a.split("=")[0] in _CONFIG_FLAGS for a in argv if a.startswith("-")):
        return None
    if not args:
        return None
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import OverrideParseException

    parser = OverridesParser.create()
    parsed = []
    for arg in args:
        try:
            parsed += parser.parse_overrides([arg])
        except OverrideParseException as err:
            if "=" not in arg and parsed and parsed[-1].key_or_group in _DIR_KEYS:
                return (f"{arg!r} is not an override: a path with spaces must be quoted, e.g. "
                        f"'{parsed[-1].key_or_group}=\"{parsed[-1].get_value_element_as_str()} {arg}\"'")  # fmt: skip
            reason = str(err).splitlines()[0] if str(err) else "not key=value"
            return f"cannot parse the override {arg!r} ({reason}); write key=value"

    def first(ov) -> str:  # the override with the first value of a sweep (one job's config)
        if not ov.is_sweep_override():
            return ov.input_line
        values = list(ov.sweep_string_iterator())
        return f"{ov.get_key_element()}={values[0]}" if values else ov.input_line

    groups = {p.name for p in conf_dir.iterdir() if p.is_dir()}
    compose_with, keys = [], []
    for ov in parsed:
        key = ov.get_key_element()
        if key.lstrip("+~").startswith("hydra.searchpath"):
            return None
        if ov.key_or_group in _DIR_KEYS and not ov.is_sweep_override():
            problem = writable_dir_problem(_string_value(ov))
            if problem:
                return problem
        if ov.key_or_group == "name" and not ov.is_sweep_override():
            from xmsem.config import ConfigError, validate_name

            try:  # before Hydra creates outputs/runs/<name>/ (ENAMETOOLONG in 4 tracebacks)
                validate_name(_string_value(ov))
            except ConfigError as err:
                return str(err)
        base = ov.key_or_group.split("@")[0]
        is_group = base in groups or base.split("/")[0] in groups
        if is_group or ov.is_add() or ov.is_delete() or ov.is_force_add():
            compose_with.append(first(ov))  # group choices and new keys shape the config
        elif not ov.key_or_group.startswith("hydra."):
            keys.append(ov.key_or_group)
    return _unknown_key(keys, compose_with, conf_dir) if keys else None


def _unknown_key(keys: list[str], compose_with: list[str], conf_dir: Path) -> str | None:
    """The first of ``keys`` that the config composed with ``compose_with`` lacks (one line
    with the closest existing key), or None."""
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    try:
        GlobalHydra.instance().clear()
        with initialize_config_dir(config_dir=str(conf_dir), version_base="1.3"):
            cfg = compose(config_name="config", overrides=compose_with)
    except Exception:  # a composition problem of its own: Hydra reports it
        return None
    finally:
        GlobalHydra.instance().clear()
    known = _flat_keys(cfg)
    for key in keys:
        if key in known:
            continue
        parent, _, leaf = key.rpartition(".")
        siblings = [k for k in known if k.rpartition(".")[0] == parent]
        close = difflib.get_close_matches(key, siblings or known, n=1, cutoff=0.6)
        hint = f"; did you mean {close[0]}?" if close else ""
        where = f"{parent} has" if parent else "the config has"
        return f"{key} is not a config key ({where} no {leaf!r}){hint}"
    return None
