"""`ingest_options`: one session's chains for the active watchlist.

The flow lives in `flows.ingest.flow`; this package hands its names out on first use (PEP 562), so
`python -m flows.ingest --help` (which imports this package first) starts without importing Prefect.
Deployments name `flows.ingest.ingest_options`, which resolves here like any attribute.
"""

from __future__ import annotations

from typing import Any

__all__ = ["ingest_options"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from flows.ingest import flow

        return getattr(flow, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
