"""What the alignment registry holds, known without importing torch.

Config validation runs before any heavy import (a bad setting is refused in about two seconds,
not after torch's), but the metrics are defined beside their torch code and register themselves
when :mod:`xmsem.alignment` is imported. This package is the torch-free side of that registry:

* :mod:`~xmsem.catalog.choices`: a metric option's check (:class:`Option`, the common ones),
  the one implementation of the errors for unknown metrics and options
  (:func:`check_metric_params`, :func:`check_options`, given the registry to check against),
  and the names of the transfer maps and of the normalisations;
* :mod:`~xmsem.catalog.metrics`: the registered metrics' names, defaults, options and rank
  settings, from the live registry once :mod:`xmsem.alignment` is imported (then it holds what
  a plugin registered too), else read from the alignment sources with :mod:`ast` (no metric is
  listed anywhere by hand: a metric is still its module and its test).

Layer 0: it imports nothing of the project except, as a last resort, :mod:`xmsem.alignment`.
"""

from xmsem.catalog.choices import (
    CLOSED_UNIT_INTERVAL,
    INT_AT_LEAST_2,
    MAP_KINDS,
    NONNEGATIVE_FLOAT,
    NORMALIZATIONS,
    POSITIVE_FLOAT,
    POSITIVE_INT,
    UNIT_INTERVAL,
    Option,
    check_metric_params,
    check_options,
    choice,
    configured,
    default_metrics,
)
from xmsem.catalog.metrics import MetricEntry, StaticOptions, metric_catalog, read_metrics

__all__ = [
    "CLOSED_UNIT_INTERVAL",
    "INT_AT_LEAST_2",
    "MAP_KINDS",
    "NONNEGATIVE_FLOAT",
    "NORMALIZATIONS",
    "POSITIVE_FLOAT",
    "POSITIVE_INT",
    "UNIT_INTERVAL",
    "MetricEntry",
    "Option",
    "StaticOptions",
    "check_metric_params",
    "check_options",
    "choice",
    "configured",
    "default_metrics",
    "metric_catalog",
    "read_metrics",
]
