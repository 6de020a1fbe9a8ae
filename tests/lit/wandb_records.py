"""Read the records of an offline wandb run file (``run-<id>.wandb``) without wandb's service.

The file is a LevelDB-style log: a 7-byte header (``:W&B``, magic, version), then 32 KiB blocks of
chunks, each with a 7-byte header (crc32 (4), little-endian length (2), type (1): 1 full, 2 first,
3 middle, 4 last); the joined chunks are serialised ``wandb_internal_pb2.Record`` messages.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from pathlib import Path

BLOCK = 32 * 1024
HEADER = 7


def records(path: Path) -> Iterator[object]:
    from wandb.proto import wandb_internal_pb2

    data = Path(path).read_bytes()
    assert data[:4] == b":W&B", f"{path} is not a wandb run file"
    pos, pending = HEADER, b""
    while pos + HEADER <= len(data):
        left_in_block = BLOCK - pos % BLOCK
        if left_in_block < HEADER:  # block trailer padding
            pos += left_in_block
            continue
        _crc, length, kind = struct.unpack("<IHB", data[pos : pos + HEADER])
        chunk = data[pos + HEADER : pos + HEADER + length]
        pos += HEADER + length
        if kind == 0 and length == 0:
            continue
        pending += chunk
        if kind in (1, 4):
            record = wandb_internal_pb2.Record()
            record.ParseFromString(pending)
            pending = b""
            yield record


def history_and_config(path: Path) -> tuple[list[dict[str, str]], dict[str, str]]:
    """All history rows ({key: json value}) and the config items ({key: json value}) of a run file."""
    history: list[dict[str, str]] = []
    config: dict[str, str] = {}
    for record in records(path):
        kind = record.WhichOneof("record_type")
        if kind == "history":
            history.append({item.key or "/".join(item.nested_key): item.value_json
                            for item in record.history.item})  # fmt: skip
        elif kind == "config":
            for item in record.config.update:
                config[item.key or "/".join(item.nested_key)] = item.value_json
        elif kind == "run":
            for item in record.run.config.update:
                config[item.key or "/".join(item.nested_key)] = item.value_json
    return history, config
