"""The provider handle a task opens for the plain function it wraps (the database connection is
opened by the task from the run's target).

Plain functions receive both as arguments (tests hand them a test database and a double); the task
wrappers get them here. The provider instance is per process and settings (`get_provider`), so every
day and thread a run starts in one process shares one instance and its request budget.

Across processes and machines, one Prefect global concurrency limit with slot decay serves as the
request budget (Prefect's documented rate-limit pattern): every request takes a slot, the server
frees slots at the decay rate. Each process's own token bucket still paces its threads.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Mapping, Sequence
from datetime import date

from prefect.concurrency.sync import rate_limit

from providers.base import ChainProvider, WindowProvider
from providers.registry import get_provider, load_plugins
from providers.window import WindowPrefetcher
from tasks.request import IngestRequest


@functools.cache
def global_rate_limit_gate(limit_name: str) -> Callable[[], None]:
    """One callable per limit name and process, so the provider instance (keyed by it) is shared."""

    def take_slot() -> None:
        rate_limit(limit_name, occupy=1, strict=True)

    take_slot.__qualname__ = f"global_rate_limit_gate({limit_name!r})"
    return take_slot


# Window prefetchers of the runs in this process, by request (see providers/window.py).
_windows: dict[IngestRequest, WindowPrefetcher] = {}
_windows_lock = threading.Lock()


def provider_for(request: IngestRequest) -> ChainProvider:
    """This process's provider for the run: the run's window prefetcher where one is installed
    (the flow-run process), else the provider instance (built on first use; checks credentials)."""
    with _windows_lock:
        prefetcher = _windows.get(request)
    if prefetcher is not None:
        return prefetcher
    load_plugins(request.provider_modules)
    gate = global_rate_limit_gate(request.shared_rate_limit) if request.shared_rate_limit else None
    return get_provider(request.provider, request.provider_settings(gate))


def install_windows(request: IngestRequest, plan: Mapping[str, Sequence[date]]) -> bool:
    """Serve this run's days from windows when its provider can fetch them; True if installed."""
    provider = provider_for(request)
    if not isinstance(provider, WindowProvider) or isinstance(provider, WindowPrefetcher):
        return False
    with _windows_lock:
        _windows[request] = WindowPrefetcher(provider, plan)
    return True


def remove_windows(request: IngestRequest) -> None:
    """Drop the run's prefetcher and whatever it still holds (the run is over)."""
    with _windows_lock:
        _windows.pop(request, None)
