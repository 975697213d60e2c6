"""The chain write path and the ledger that says which symbol-days are complete.

A symbol-day is written in one transaction: its chain rows, its ledger row (`chain_snapshots`) and
the underlying close. Either all of it lands or none of it does, so "ledger row exists" is exactly
"symbol-day complete", and re-runs can skip by the ledger alone without scanning the chain table.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

import psycopg2
import psycopg2.errors
import psycopg2.extensions

CHAIN_COLUMNS: tuple[str, ...] = (
    "time",
    "ticker_id",
    "expiration_date",
    "strike_price",
    "option_type",
    "bid",
    "ask",
    "last",
    "volume",
    "open_interest",
    "implied_volatility",
    "delta",
    "gamma",
    "theta",
    "vega",
)

# One value per chain column after `time` and `ticker_id`, in CHAIN_COLUMNS order.
ChainRow = tuple[
    date,
    Decimal,
    str,
    float | None,
    float | None,
    float | None,
    int | None,
    int | None,
    float | None,
    float | None,
    float | None,
    float | None,
    float | None,
]


@dataclass(frozen=True)
class SymbolDayRows:
    """Everything one symbol-day writes, already validated and de-duplicated by the caller."""

    ticker_id: str
    session: date
    snapshot_time: datetime
    provider: str
    underlying_close: float | None
    rows: Sequence[ChainRow]


@dataclass(frozen=True)
class WriteOutcome:
    rows_written: int
    # True when the ledger already had this symbol-day (another run finished it first).
    already_complete: bool


def _copy_value(value: object) -> str:
    if value is None:
        return r"\N"
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"non-finite value {value!r} reached the write path")
        return repr(value)
    if isinstance(value, date | datetime):
        return value.isoformat()
    return str(value)


def _copy_buffer(symbol_day: SymbolDayRows) -> io.StringIO:
    prefix = f"{symbol_day.snapshot_time.isoformat()}\t{symbol_day.ticker_id}\t"
    lines = [prefix + "\t".join(_copy_value(value) for value in row) for row in symbol_day.rows]
    return io.StringIO("\n".join(lines) + "\n" if lines else "")


def _lock_symbol_day(cursor: psycopg2.extensions.cursor, ticker_id: str, snapshot_time: datetime) -> None:
    """Serialise writers of one symbol-day across processes (two overlapping backfills)."""
    cursor.execute(
        "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))",
        (f"kapman:symbol-day:{ticker_id}:{snapshot_time.isoformat()}",),
    )


def write_symbol_day(connection: psycopg2.extensions.connection, symbol_day: SymbolDayRows) -> WriteOutcome:
    """Write one symbol-day atomically; a symbol-day already in the ledger is left untouched."""
    columns = ", ".join(CHAIN_COLUMNS)
    with connection, connection.cursor() as cursor:
        _lock_symbol_day(cursor, symbol_day.ticker_id, symbol_day.snapshot_time)
        cursor.execute(
            "SELECT 1 FROM chain_snapshots WHERE time = %s AND ticker_id = %s",
            (symbol_day.snapshot_time, symbol_day.ticker_id),
        )
        if cursor.fetchone():
            return WriteOutcome(rows_written=0, already_complete=True)

        # With the lock held and no ledger row, our rows can only collide with rows some other
        # system wrote without a ledger entry; COPY straight in, and merge only if that happens.
        cursor.execute("SAVEPOINT direct_copy")
        try:
            cursor.copy_expert(f"COPY options_chains ({columns}) FROM STDIN", _copy_buffer(symbol_day))
            rows_written = len(symbol_day.rows)
            cursor.execute("RELEASE SAVEPOINT direct_copy")
        except psycopg2.errors.UniqueViolation:
            cursor.execute("ROLLBACK TO SAVEPOINT direct_copy")
            rows_written = _merge_via_staging(cursor, symbol_day, columns)

        cursor.execute(
            "INSERT INTO chain_snapshots (time, ticker_id, provider, contracts, underlying_close) "
            "VALUES (%s, %s, %s, %s, %s)",
            (
                symbol_day.snapshot_time,
                symbol_day.ticker_id,
                symbol_day.provider,
                len(symbol_day.rows),
                symbol_day.underlying_close,
            ),
        )
        if symbol_day.underlying_close is not None:
            cursor.execute(
                "INSERT INTO ohlcv (ticker_id, date, close) VALUES (%s, %s, %s) "
                "ON CONFLICT (ticker_id, date) DO NOTHING",
                (symbol_day.ticker_id, symbol_day.session, symbol_day.underlying_close),
            )
    return WriteOutcome(rows_written=rows_written, already_complete=False)


def _merge_via_staging(cursor: psycopg2.extensions.cursor, symbol_day: SymbolDayRows, columns: str) -> int:
    cursor.execute(
        "CREATE TEMP TABLE IF NOT EXISTS chain_staging (LIKE options_chains INCLUDING DEFAULTS) ON COMMIT DROP"
    )
    cursor.copy_expert(f"COPY chain_staging ({columns}) FROM STDIN", _copy_buffer(symbol_day))
    cursor.execute(f"INSERT INTO options_chains ({columns}) SELECT {columns} FROM chain_staging ON CONFLICT DO NOTHING")
    return cursor.rowcount


@dataclass(frozen=True)
class LedgerEntry:
    snapshot_time: datetime
    symbol: str
    provider: str
    contracts: int


def ledger_entries(
    connection: psycopg2.extensions.connection,
    snapshot_times: Sequence[datetime],
    symbols: Sequence[str],
) -> dict[tuple[datetime, str], LedgerEntry]:
    """Complete symbol-days among `snapshot_times` × `symbols`, in one query."""
    if not snapshot_times or not symbols:
        return {}
    with connection, connection.cursor() as cursor:
        cursor.execute(
            "SELECT cs.time, t.symbol, cs.provider, cs.contracts FROM chain_snapshots cs "
            "JOIN tickers t ON t.id = cs.ticker_id "
            "WHERE cs.time = ANY(%s::timestamptz[]) AND t.symbol = ANY(%s::varchar[])",
            (list(snapshot_times), list(symbols)),
        )
        return {(row[0], row[1]): LedgerEntry(*row) for row in cursor.fetchall()}
