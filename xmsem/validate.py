"""``python -m xmsem.validate``: kept as the short command; the code lives in xmsem.cli.validate."""

from xmsem.cli.validate import check, main

__all__ = ["check", "main"]

if __name__ == "__main__":
    raise SystemExit(main())
