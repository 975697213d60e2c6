"""`dealer_metrics`: dealer positioning metrics per ticker-day.

The flow lives in `flows.dealer_metrics.flow`; this package hands its names out on first use (PEP 562), so
`python -m flows.dealer_metrics --help` (which imports this package first) starts without importing Prefect.
Deployments name `flows.dealer_metrics.preopen_dealer_run`, which resolves here like any attribute.
"""

from __future__ import annotations

from typing import Any

__all__ = ["DealerSummary", "build_dealer_request", "dealer_metrics", "preopen_dealer_run"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from flows.dealer_metrics import flow

        return getattr(flow, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
