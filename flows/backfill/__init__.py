"""`backfill_options`: every session of a date range, each exactly like a single-day run.

The flow is in `flow.py`; see `flows.lazy`."""

from flows.lazy import forward

__all__ = ["backfill_options"]
__getattr__ = forward(__name__, "flow", __all__)
