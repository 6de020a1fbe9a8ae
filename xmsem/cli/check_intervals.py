"""``python -m xmsem.cli.check_intervals <summary.csv> ...``: every interval over n <= 10 seeds
at least as wide as the t-interval for its n, and none from fewer than 3 seeds
(:func:`xmsem.analysis.stats.check_interval_widths`). Exit 0 when all files pass, 1 with one
line per problem otherwise, 2 without arguments."""

from __future__ import annotations

import sys

from xmsem.analysis.stats import main

if __name__ == "__main__":
    sys.exit(main())
