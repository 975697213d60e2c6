"""The watchlist: which underlyings are ingested. Callers pass symbols already validated."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

import psycopg2.extensions

from store.connection import transaction

DEFAULT_WATCHLIST = "default"
# What an entry added without a named source records (the trading system's column is NOT NULL).
DEFAULT_SOURCE = "kapman-options"


@dataclass(frozen=True)
class WatchlistEntry:
    watchlist_id: str
    symbol: str
    active: bool
    source: str | None
    effective_date: date


def load_symbols(
    connection: psycopg2.extensions.connection,
    symbols: Sequence[str],
    *,
    watchlist_id: str = DEFAULT_WATCHLIST,
    source: str | None = None,
) -> int:
    """Add or re-activate symbols; returns how many entries were inserted or changed.

    `source` and `effective_date` are always written: the trading system's schema requires both and
    gives neither a default."""
    if not symbols:
        return 0
    with transaction(connection) as cursor:
        cursor.execute(
            "INSERT INTO watchlists (watchlist_id, symbol, active, source, effective_date) "
            "SELECT %s, unnest(%s::varchar[]), true, %s, current_date "
            "ON CONFLICT (watchlist_id, symbol) DO UPDATE "
            "SET active = true, source = EXCLUDED.source, updated_at = now() "
            "WHERE watchlists.active IS DISTINCT FROM true",
            (watchlist_id, list(symbols), source or DEFAULT_SOURCE),
        )
        return cursor.rowcount


def deactivate_symbols(
    connection: psycopg2.extensions.connection,
    symbols: Sequence[str],
    *,
    watchlist_id: str = DEFAULT_WATCHLIST,
) -> int:
    """Mark symbols inactive (history stays); returns how many were active before."""
    with transaction(connection) as cursor:
        cursor.execute(
            "UPDATE watchlists SET active = false, updated_at = now() "
            "WHERE watchlist_id = %s AND symbol = ANY(%s) AND active",
            (watchlist_id, list(symbols)),
        )
        return cursor.rowcount


def list_entries(
    connection: psycopg2.extensions.connection, *, watchlist_id: str | None = None
) -> list[WatchlistEntry]:
    with transaction(connection) as cursor:
        cursor.execute(
            "SELECT watchlist_id, symbol, active, source, effective_date FROM watchlists "
            "WHERE %(watchlist)s::text IS NULL OR watchlist_id = %(watchlist)s "
            "ORDER BY watchlist_id, symbol",
            {"watchlist": watchlist_id},
        )
        return [WatchlistEntry(*row) for row in cursor.fetchall()]


def active_symbols(connection: psycopg2.extensions.connection) -> list[str]:
    """The ingestion universe: every symbol active in any watchlist, sorted."""
    with transaction(connection) as cursor:
        cursor.execute("SELECT DISTINCT symbol FROM watchlists WHERE active ORDER BY symbol")
        return [row[0] for row in cursor.fetchall()]
