"""Checks that make a run usable before any day starts, so a bad setup is one clear line.

Everything here is cheap and side-effect free except creating the schema on a fresh database.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from datetime import date, datetime

from markets.snapshot import snapshot_time_for
from providers.registry import check_provider_name, get_provider
from store.chains import ledger_entries
from store.connection import DatabaseTarget, connect, resolve_target
from store.migrations import migrate
from tasks.ingest_day import IngestParams
from tasks.provider_settings import provider_settings
from tasks.symbols import resolve_symbols

logger = logging.getLogger("kapman.preflight")

PROVIDER_ENV = "OPTIONS_PROVIDER"
EMBEDDED_DEFAULT_PROVIDER = "synthetic"


class InvalidRunConfiguration(ValueError):
    """A parameter combination no run can satisfy (e.g. concurrency 0)."""


@dataclass(frozen=True)
class RunPlan:
    """What a run will do: sessions × symbols, and how much of it the ledger already has."""

    sessions: tuple[date, ...]
    symbols: tuple[str, ...]
    params: IngestParams
    database: str
    # session → number of symbols already complete for it
    complete_symbols: dict[date, int]

    def snapshot_time(self, session: date) -> datetime:
        return self.params.snapshot_time or snapshot_time_for(session)


def resolve_provider_name(explicit: str | None, target: DatabaseTarget) -> str:
    """Demo data may only land in the embedded database unless the user names a provider."""
    name = (explicit or os.environ.get(PROVIDER_ENV, "")).strip()
    if name:
        return check_provider_name(name)
    if target.embedded:
        return EMBEDDED_DEFAULT_PROVIDER
    raise InvalidRunConfiguration(
        f"DATABASE_URL is set: name a provider with --provider or {PROVIDER_ENV} "
        "(the synthetic demo provider is only a default on the embedded database)"
    )


def check_numbers(concurrency: int, heartbeat: int, max_parallel_days: int = 1) -> None:
    if concurrency < 1:
        raise InvalidRunConfiguration(f"concurrency must be at least 1 (got {concurrency})")
    if heartbeat < 1:
        raise InvalidRunConfiguration(f"heartbeat must be at least 1 (got {heartbeat})")
    if max_parallel_days < 1:
        raise InvalidRunConfiguration(f"max_parallel_days must be at least 1 (got {max_parallel_days})")


def prepare_run(
    sessions: list[date],
    *,
    provider: str | None,
    concurrency: int,
    symbols: tuple[str, ...] | None,
    large_symbols: tuple[str, ...],
    heartbeat: int,
    snapshot_time: datetime | None = None,
    max_requests_per_minute: int | None = None,
    max_parallel_days: int = 1,
) -> RunPlan:
    """Validate everything a run needs; raises a typed error with a one-line message."""
    check_numbers(concurrency, heartbeat, max_parallel_days)
    target = resolve_target()
    provider_name = resolve_provider_name(provider, target)
    settings = provider_settings(max_requests_per_minute, shared_rate_limit=None)
    # Building the provider checks credentials (e.g. a missing API key) before any day starts.
    get_provider(provider_name, settings)
    connection = connect(target)
    try:
        migrate(connection)
        chosen = tuple(resolve_symbols(connection, symbols))
        ignored = [symbol for symbol in symbols or () if symbol not in chosen]
        if ignored:
            logger.warning(
                "not on the active watchlist, ignored: %s (add them with `python -m store watchlist add`)",
                ",".join(ignored),
            )
        snapshot_times = {session: snapshot_time or snapshot_time_for(session) for session in sessions}
        entries = ledger_entries(connection, list(snapshot_times.values()), chosen)
    finally:
        connection.close()
    complete = {
        session: sum(1 for symbol in chosen if (stamp, symbol) in entries) for session, stamp in snapshot_times.items()
    }
    params = IngestParams(
        provider=provider_name,
        concurrency=concurrency,
        symbols=symbols,
        large_symbols=large_symbols,
        heartbeat=heartbeat,
        snapshot_time=snapshot_time,
        max_requests_per_minute=max_requests_per_minute,
    )
    return RunPlan(
        sessions=tuple(sessions),
        symbols=chosen,
        params=params,
        database=target.display,
        complete_symbols=complete,
    )
