"""`ingest_options`: one session's chains for the active watchlist. The flow is in `flow.py`; see `flows.lazy`."""

from flows.lazy import forward

__all__ = ["ingest_options"]
__getattr__ = forward(__name__, "flow", __all__)
