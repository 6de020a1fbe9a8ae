"""A dataset's extension point: :class:`DatasetSpec` (its loader, config schema, sizes and
checks), registered by name. Adding a dataset is one ``register_dataset(DatasetSpec(...))`` (plus
``conf/data/<name>.yaml`` to select it with ``data=<name>``): the config validation, the probe-set
size check, training and ``xmsem.compare`` all read the spec."""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from xmsem.data.tensors import RawSplits

__all__ = ["COMMON_KEYS", "DATASETS", "DataCommon", "DatasetSpec", "FileData", "register_dataset"]


# field metadata of keys that say where the files are or how batches are cut, not which examples
# (two runs whose data differ only in these saw the same examples)
LOCATION = {"location": True}


@dataclass
class DataCommon:
    """The keys every ``data`` config has (how batches are cut and split, not which examples)."""

    name: str = "synthetic"
    batch_size: int = field(default=128, metadata=LOCATION)
    val_size: int = 2000
    split_seed: int = 0


@dataclass
class FileData(DataCommon):
    """A dataset read from files (``data_dir``), downloaded when allowed."""

    data_dir: str | None = field(default=None, metadata=LOCATION)
    download: bool = field(default=True, metadata=LOCATION)


COMMON_KEYS = tuple(f.name for f in dataclasses.fields(DataCommon))


@dataclass(frozen=True, eq=False)
class DatasetSpec:
    """One dataset. ``schema``: the dataclass of its ``data`` config (a :class:`DataCommon`
    subclass; its defaults are the dataset's defaults); every key it adds is a keyword of
    ``loader``, which returns :class:`RawSplits`. ``test_size``: the number of test examples,
    an int or a function of the ``data`` config (known before loading: the probe-set size is
    checked against it). ``check(data)``: raise ValueError naming the bad key for values the
    schema's types cannot refuse (sizes, ranges); None: none beyond the types."""

    name: str
    loader: Callable[..., RawSplits]
    schema: type[DataCommon]
    test_size: int | Callable[[Mapping[str, Any]], int] | None = None
    check: Callable[[Mapping[str, Any]], None] | None = None
    doc: str = field(default="")

    def __post_init__(self) -> None:
        if not (dataclasses.is_dataclass(self.schema) and issubclass(self.schema, DataCommon)):
            raise TypeError(f"dataset {self.name!r}: schema must be a DataCommon dataclass")
        params = inspect.signature(self.loader).parameters
        takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
        own = [f.name for f in dataclasses.fields(self.schema) if f.name not in COMMON_KEYS]
        missing = [key for key in own if key not in params and not takes_any]
        if missing:
            raise TypeError(f"dataset {self.name!r}: schema keys {missing} are not arguments "
                            f"of its loader {self.loader.__name__}")  # fmt: skip
        required = [n for n, p in params.items() if p.default is inspect.Parameter.empty
                    and p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL) and n not in own]  # fmt: skip
        if required:
            raise TypeError(f"dataset {self.name!r}: loader arguments {required} have no key "
                            "in the schema")  # fmt: skip

    def loader_kwargs(self, data: Mapping[str, Any]) -> dict[str, Any]:
        """The loader's keyword arguments in a ``data`` config (every key but the common ones)."""
        return {k: v for k, v in data.items() if k not in COMMON_KEYS}

    def load(self, data: Mapping[str, Any]) -> RawSplits:
        """The raw splits a ``data`` config describes."""
        return self.loader(**self.loader_kwargs(data))

    def identity(self, data: Mapping[str, Any]) -> dict[str, Any]:
        """The keys of a ``data`` config that say which examples it holds (name, sizes, seeds,
        generation settings): all but the schema's location keys (``LOCATION`` metadata)."""
        where = {f.name for f in dataclasses.fields(self.schema) if f.metadata.get("location")}
        return {k: v for k, v in data.items() if k not in where}

    def n_test(self, data: Mapping[str, Any]) -> int | None:
        """Examples in the test split of this ``data`` config (None: unknown before loading)."""
        return self.test_size(data) if callable(self.test_size) else self.test_size


DATASETS: dict[str, DatasetSpec] = {}


def register_dataset(spec: DatasetSpec, replace: bool = False) -> DatasetSpec:
    """Add ``spec`` to :data:`DATASETS`; a name already taken is an error unless ``replace``."""
    if spec.name in DATASETS and not replace:
        raise ValueError(f"dataset {spec.name!r} is already registered")
    DATASETS[spec.name] = spec
    return spec


def unregister_dataset(name: str) -> None:
    """Remove a dataset (tests that register a temporary one)."""
    DATASETS.pop(name)
