"""`backfill_options`: every session of a date range, each exactly like a single-day run.

The flow lives in `flows.backfill.flow`; this package hands its names out on first use (PEP 562), so
`python -m flows.backfill --help` (which imports this package first) starts without importing Prefect.
Deployments name `flows.backfill.backfill_options`, which resolves here like any attribute.
"""

from __future__ import annotations

from typing import Any

__all__ = ["backfill_options"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from flows.backfill import flow

        return getattr(flow, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
