"""`dealer_metrics`: dealer positioning metrics per ticker-day. The flow is in `flow.py`; see `flows.lazy`."""

from flows.lazy import forward

__all__ = ["DealerSummary", "build_dealer_request", "dealer_metrics", "preopen_dealer_run"]
__getattr__ = forward(__name__, "flow", __all__)
