"""Read outcomes back from the database in tests."""

from __future__ import annotations

import hashlib

import psycopg2
import psycopg2.extensions

from store.watchlist import load_symbols


def seed_watchlist(connection: psycopg2.extensions.connection, symbols: list[str]) -> None:
    load_symbols(connection, symbols, source="test")


def count(connection: psycopg2.extensions.connection, table: str) -> int:
    with connection, connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {table}")
        return cursor.fetchone()[0]


def rows_per_snapshot(connection: psycopg2.extensions.connection) -> dict[tuple[str, str], int]:
    """(snapshot time ISO, symbol) → number of chain rows."""
    with connection, connection.cursor() as cursor:
        cursor.execute(
            "SELECT to_char(c.time AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US'), t.symbol, count(*) "
            "FROM options_chains c JOIN tickers t ON t.id = c.ticker_id GROUP BY 1, 2"
        )
        return {(row[0], row[1]): row[2] for row in cursor.fetchall()}


def chain_digest(connection: psycopg2.extensions.connection) -> str:
    """A digest of every chain row (by symbol, not ticker uuid), to compare two databases."""
    with connection, connection.cursor() as cursor:
        cursor.execute(
            "SELECT t.symbol, c.time, c.expiration_date, c.strike_price, c.option_type, c.bid, c.ask, c.last, "
            "c.volume, c.open_interest, c.implied_volatility, c.delta, c.gamma, c.theta, c.vega "
            "FROM options_chains c JOIN tickers t ON t.id = c.ticker_id ORDER BY 1, 2, 3, 4, 5"
        )
        digest = hashlib.sha256()
        for row in cursor:
            digest.update(repr(row).encode())
        return digest.hexdigest()


def ledger(connection: psycopg2.extensions.connection) -> list[tuple]:
    with connection, connection.cursor() as cursor:
        cursor.execute(
            "SELECT t.symbol, cs.time, cs.provider, cs.contracts, cs.underlying_close FROM chain_snapshots cs "
            "JOIN tickers t ON t.id = cs.ticker_id ORDER BY 2, 1"
        )
        return cursor.fetchall()


def contents(url: str) -> tuple[str, list[tuple]]:
    """(chain digest, ledger) of the database at `url`: equal for two databases holding the same data."""
    connection = psycopg2.connect(url)
    try:
        return chain_digest(connection), ledger(connection)
    finally:
        connection.close()
