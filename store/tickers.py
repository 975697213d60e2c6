"""Ticker ids: the uuid every chain, ledger and metrics row is keyed by."""

from __future__ import annotations

from collections.abc import Sequence

import psycopg2.extensions

from store.connection import transaction
from store.schema import table_columns


def ensure_tickers(connection: psycopg2.extensions.connection, symbols: Sequence[str]) -> dict[str, str]:
    """Create missing tickers and return symbol → id (as text) for all of `symbols`."""
    if not symbols:
        return {}
    # The trading system's `tickers.created_at` is nullable without a default: fill it where it exists.
    stamped = "created_at" in table_columns(connection, "tickers")
    with transaction(connection) as cursor:
        cursor.execute(
            f"INSERT INTO tickers (symbol, is_active{', created_at' if stamped else ''}) "
            f"SELECT unnest(%s::varchar[]), true{', now()' if stamped else ''} "
            "ON CONFLICT (symbol) DO NOTHING",
            (list(symbols),),
        )
    return ticker_ids(connection, symbols)


def ticker_ids(connection: psycopg2.extensions.connection, symbols: Sequence[str]) -> dict[str, str]:
    """symbol → id for the symbols that already have a ticker row."""
    if not symbols:
        return {}
    with transaction(connection) as cursor:
        cursor.execute("SELECT symbol, id::text FROM tickers WHERE symbol = ANY(%s)", (list(symbols),))
        return dict(cursor.fetchall())
