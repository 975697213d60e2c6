"""Reading stored chains, ledger rows and dealer metrics back out (chains and ledger rows exactly).

Chains and ledger rows leave the database through `COPY (SELECT …) TO STDOUT` in CSV: the server
streams each row as it is read, nothing is held in this process unless the caller keeps it, and each
value arrives as its exact stored text (a strike's `numeric(12,4)` digits, a price's numeric digits,
timestamps in ISO 8601 UTC to the microsecond). One column list per table (`CHAIN_READ_COLUMNS`,
`LEDGER_READ_COLUMNS`) says what is read, in which order, as which kind of value; the export files,
the pandas frames of `kapman` and the README's column tables all follow it.

A chain read back carries `symbol` in place of `ticker_id` (the uuid means nothing outside this
database) and, from the ledger, the `provider` that wrote the symbol-day and whether it is
`simulated`, so simulated data stays labelled wherever it goes. Sessions are given as snapshot
identities (`markets.snapshot.snapshot_time_for`), as everywhere in the store.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Any, Protocol

import psycopg2.extensions

from settings.errors import SetupError
from store.connection import transaction
from store.schema import table_columns


class Kind(StrEnum):
    """What a read-back column holds, which decides its Arrow, parquet and pandas type."""

    TIMESTAMP = "timestamp"  # UTC instant, microseconds
    DATE = "date"
    STRIKE = "strike"  # exact decimal, numeric(12,4)
    FLOAT = "float"
    INTEGER = "integer"
    TEXT = "text"
    BOOLEAN = "boolean"


@dataclass(frozen=True)
class Column:
    """One read-back column: its name, kind, and the SQL that gives its exact text.

    `source` names the table column it needs when that column may be missing in a database (one
    migrated by another branch or an older version): it is then read as NULL, so the shape of what
    is read back never depends on the database's vintage.
    """

    name: str
    kind: Kind
    sql: str
    source: str | None = None


def _utc_text(expression: str) -> str:
    """ISO 8601 in UTC with microseconds and a `Z`, whatever the session's TimeZone or DateStyle."""
    return f"""to_char({expression} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')"""


CHAIN_READ_COLUMNS: tuple[Column, ...] = (
    Column("symbol", Kind.TEXT, "t.symbol"),
    Column("time", Kind.TIMESTAMP, _utc_text("c.time")),
    Column("expiration_date", Kind.DATE, "to_char(c.expiration_date, 'YYYY-MM-DD')"),
    Column("strike_price", Kind.STRIKE, "c.strike_price"),
    Column("option_type", Kind.TEXT, "c.option_type"),
    *(Column(name, Kind.FLOAT, f"c.{name}") for name in ("bid", "ask", "last")),
    *(Column(name, Kind.INTEGER, f"c.{name}") for name in ("volume", "open_interest")),
    *(Column(name, Kind.FLOAT, f"c.{name}") for name in ("implied_volatility", "delta", "gamma", "theta", "vega")),
    Column("provider", Kind.TEXT, "cs.provider"),
    Column("simulated", Kind.BOOLEAN, "cs.simulated::text"),
)

LEDGER_READ_COLUMNS: tuple[Column, ...] = (
    Column("symbol", Kind.TEXT, "t.symbol"),
    Column("time", Kind.TIMESTAMP, _utc_text("cs.time")),
    Column("provider", Kind.TEXT, "cs.provider"),
    Column("contracts", Kind.INTEGER, "cs.contracts"),
    Column("underlying_close", Kind.FLOAT, "cs.underlying_close"),
    Column("fetched_at", Kind.TIMESTAMP, _utc_text("cs.fetched_at")),
    Column("simulated", Kind.BOOLEAN, "cs.simulated::text"),
    Column("close_estimated", Kind.BOOLEAN, "cs.close_estimated::text", source="close_estimated"),
    # dealer-v2: the pricing inputs a source reports with the day (annualised fractions).
    Column("risk_free_rate", Kind.FLOAT, "cs.risk_free_rate", source="risk_free_rate"),
    Column("dividend_yield", Kind.FLOAT, "cs.dividend_yield", source="dividend_yield"),
)


class UnknownSymbol(SetupError, LookupError):
    """A symbol the store has never seen (no ticker row): nothing of it can be read back."""


class CopySink(Protocol):
    """Where COPY's text goes: a binary file, or a parser that turns it into Arrow tables."""

    def write(self, data: bytes) -> Any: ...


def ticker_ids_of(connection: psycopg2.extensions.connection, symbols: Sequence[str]) -> list[str]:
    """The ticker ids of `symbols` (already normalised); raises `UnknownSymbol` naming those the
    store has no ticker for, so a typo is an error rather than an empty result."""
    with transaction(connection) as cursor:
        cursor.execute("SELECT symbol, id::text FROM tickers WHERE symbol = ANY(%s::varchar[])", (list(symbols),))
        known = dict(cursor.fetchall())
    unknown = [symbol for symbol in symbols if symbol not in known]
    if unknown:
        shown = ", ".join(unknown[:10]) + (f" and {len(unknown) - 10} more" if len(unknown) > 10 else "")
        raise UnknownSymbol(f"no such symbol in the store: {shown}")
    return [known[symbol] for symbol in symbols]


def sessions_with_chains(
    connection: psycopg2.extensions.connection, stamps: Mapping[date, datetime], ticker_ids: Sequence[str] | None
) -> list[date]:
    """The sessions of `stamps` (session → snapshot identity) that hold chain rows (of `ticker_ids`,
    when given), ascending; one index probe per session, never a scan of the chains."""
    if not stamps:
        return []
    ticker_filter = "AND c.ticker_id = ANY(%(ids)s::uuid[])" if ticker_ids is not None else ""
    with transaction(connection) as cursor:
        cursor.execute(
            "SELECT s.time FROM unnest(%(times)s::timestamptz[]) AS s(time) WHERE EXISTS "
            f"(SELECT 1 FROM options_chains c WHERE c.time = s.time {ticker_filter}) ORDER BY s.time",
            {"times": list(stamps.values()), "ids": list(ticker_ids or ())},
        )
        present = {row[0] for row in cursor.fetchall()}
    return sorted(session for session, stamp in stamps.items() if stamp in present)


def chains_query(
    connection: psycopg2.extensions.connection, snapshot_times: Sequence[datetime], ticker_ids: Sequence[str] | None
) -> str:
    """The SELECT of the chain rows at `snapshot_times` (of `ticker_ids`, or every ticker), in
    `CHAIN_READ_COLUMNS` order, sorted by time, symbol, expiration, strike and type."""
    query = (
        f"SELECT {_select_list(connection, CHAIN_READ_COLUMNS)} FROM options_chains c "
        "JOIN tickers t ON t.id = c.ticker_id "
        "LEFT JOIN chain_snapshots cs ON cs.time = c.time AND cs.ticker_id = c.ticker_id "
        "WHERE c.time = ANY(%(times)s::timestamptz[])"
        + (" AND c.ticker_id = ANY(%(ids)s::uuid[])" if ticker_ids is not None else "")
        + " ORDER BY c.time, t.symbol, c.expiration_date, c.strike_price, c.option_type"
    )
    return _bind(connection, query, snapshot_times, ticker_ids)


def ledger_query(
    connection: psycopg2.extensions.connection, snapshot_times: Sequence[datetime], ticker_ids: Sequence[str] | None
) -> str:
    """The SELECT of the ledger (`chain_snapshots`) rows at `snapshot_times`, in
    `LEDGER_READ_COLUMNS` order, sorted by time and symbol."""
    query = (
        f"SELECT {_select_list(connection, LEDGER_READ_COLUMNS)} FROM chain_snapshots cs "
        "JOIN tickers t ON t.id = cs.ticker_id WHERE cs.time = ANY(%(times)s::timestamptz[])"
        + (" AND cs.ticker_id = ANY(%(ids)s::uuid[])" if ticker_ids is not None else "")
        + " ORDER BY cs.time, t.symbol"
    )
    return _bind(connection, query, snapshot_times, ticker_ids)


@contextmanager
def read_snapshot(connection: psycopg2.extensions.connection) -> Iterator[psycopg2.extensions.cursor]:
    """One read-only transaction that sees one snapshot of the database (REPEATABLE READ), so the
    chain and ledger files of a session agree even while an ingest writes that session."""
    with transaction(connection) as cursor:
        # Rows are sorted by symbol on the server: room to do it in memory (the default 4 MB
        # spills a 20,000-row session to disk and triples the COPY's time).
        cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY; SET LOCAL work_mem = '64MB'")
        yield cursor


def copy_out(cursor: psycopg2.extensions.cursor, query: str, sink: CopySink, *, header: bool = False) -> int:
    """Stream the query's rows into `sink` as CSV (NULL an empty unquoted field, a header row when
    asked) as the server produces them; returns the number of rows."""
    cursor.copy_expert(f"COPY ({query}) TO STDOUT WITH (FORMAT csv{', HEADER' if header else ''})", sink)
    return cursor.rowcount


def copy_chains(
    connection: psycopg2.extensions.connection,
    snapshot_times: Sequence[datetime],
    ticker_ids: Sequence[str] | None,
    sink: CopySink,
) -> int:
    """`chains_query`'s rows into `sink` (no header), in a transaction of their own."""
    query = chains_query(connection, snapshot_times, ticker_ids)
    with read_snapshot(connection) as cursor:
        return copy_out(cursor, query, sink)


def _select_list(connection: psycopg2.extensions.connection, columns: Sequence[Column]) -> str:
    ledger = table_columns(connection, "chain_snapshots")
    return ", ".join(
        f"{column.sql if column.source is None or column.source in ledger else 'NULL'} AS {column.name}"
        for column in columns
    )


def _bind(
    connection: psycopg2.extensions.connection,
    query: str,
    snapshot_times: Sequence[datetime],
    ticker_ids: Sequence[str] | None,
) -> str:
    """The query with its values quoted in by psycopg2 (COPY takes no bind parameters)."""
    with connection.cursor() as cursor:
        return cursor.mogrify(query, {"times": list(snapshot_times), "ids": list(ticker_ids or ())}).decode()


@dataclass(frozen=True)
class DealerRow:
    """One ticker-day's stored dealer metrics: the JSON as written and its model version."""

    symbol: str
    session: date
    model_version: str | None
    metrics: dict[str, Any]


def dealer_rows(
    connection: psycopg2.extensions.connection, stamps: Mapping[date, datetime], ticker_ids: Sequence[str] | None
) -> list[DealerRow]:
    """The dealer metrics stored for `stamps` (session → its `daily_snapshots` identity, see
    `markets.snapshot.daily_snapshot_time`), sorted by session and symbol; rows the dealer step has
    not filled (other jobs' rows of the same ticker-day) are left out."""
    if not stamps:
        return []
    session_of = {stamp: session for session, stamp in stamps.items()}
    with transaction(connection) as cursor:
        cursor.execute(
            "SELECT t.symbol, d.time, d.model_version, d.dealer_metrics_json FROM daily_snapshots d "
            "JOIN tickers t ON t.id = d.ticker_id WHERE d.time = ANY(%(times)s::timestamptz[]) "
            "AND d.dealer_metrics_json IS NOT NULL"
            + (" AND d.ticker_id = ANY(%(ids)s::uuid[])" if ticker_ids is not None else "")
            + " ORDER BY d.time, t.symbol",
            {"times": list(stamps.values()), "ids": list(ticker_ids or ())},
        )
        rows = cursor.fetchall()
    return [DealerRow(symbol, session_of[stamp], version, metrics) for symbol, stamp, version, metrics in rows]
