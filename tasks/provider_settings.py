"""The provider settings of a run, including the request budget it shares with other workers.

Across processes and machines, one Prefect global concurrency limit with slot decay serves as the
request budget (Prefect's documented rate-limit pattern): every request takes a slot, the server
frees slots at the decay rate. Each process's own token bucket still paces its threads.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

from prefect.concurrency.sync import rate_limit

from providers.registry import ProviderSettings


@functools.cache
def global_rate_limit_gate(limit_name: str) -> Callable[[], None]:
    """One callable per limit name and process, so the provider instance (keyed by it) is shared."""

    def take_slot() -> None:
        rate_limit(limit_name, occupy=1, strict=True)

    take_slot.__qualname__ = f"global_rate_limit_gate({limit_name!r})"
    return take_slot


def provider_settings(max_requests_per_minute: int | None, shared_rate_limit: str | None) -> ProviderSettings:
    """What `get_provider` needs to build (or find) this run's provider instance."""
    gate = global_rate_limit_gate(shared_rate_limit) if shared_rate_limit else None
    return ProviderSettings(max_requests_per_minute=max_requests_per_minute, request_gate=gate)
