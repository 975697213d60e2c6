"""The chain write path and the ledger that says which symbol-days are complete.

A symbol-day is written in one transaction: its chain rows, its ledger row (`chain_snapshots`) and
the underlying close. Either all of it lands or none of it does, so "ledger row exists" is exactly
"symbol-day complete", and re-runs can skip by the ledger alone without scanning the chain table.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import NamedTuple

import psycopg2
import psycopg2.errors
import psycopg2.extensions

from store.connection import transaction
from store.schema import table_columns


class ChainRow(NamedTuple):
    """One contract of a symbol-day as stored: every `options_chains` column after the key's
    `time` and `ticker_id`, in table order. The only row shape the write path accepts."""

    expiration_date: date
    strike_price: Decimal
    option_type: str
    bid: float | None
    ask: float | None
    last: float | None
    volume: int | None
    open_interest: int | None
    implied_volatility: float | None
    delta: float | None
    gamma: float | None
    theta: float | None
    vega: float | None


# `options_chains` columns as the write path sends them: the snapshot key, then a `ChainRow`.
CHAIN_COLUMNS: tuple[str, ...] = ("time", "ticker_id", *ChainRow._fields)


@dataclass(frozen=True)
class SymbolDayRows:
    """Everything one symbol-day writes, already validated and de-duplicated by the caller."""

    ticker_id: str
    session: date
    snapshot_time: datetime
    provider: str
    underlying_close: float | None
    rows: Sequence[ChainRow]
    # As the provider that wrote it declared; recorded in the ledger with the rows.
    simulated: bool = False
    # An estimated close is kept in the ledger only (flagged), never written to `ohlcv` as a close.
    close_estimated: bool = False
    # `--replace`: rewrite a day another real source wrote (simulated days are always rewritten).
    replace_other_provider: bool = False
    # The pricing inputs the source reported for the day (decimals), None where it reported none.
    risk_free_rate: float | None = None
    dividend_yield: float | None = None


@dataclass(frozen=True)
class WriteOutcome:
    rows_written: int
    # True when the ledger already had this symbol-day (another run finished it first).
    already_complete: bool
    # True when this write replaced the symbol-day's earlier data (simulated, or `--replace`).
    replaced: bool = False


# ---- COPY text -----------------------------------------------------------------------------------
#
# Building the text is the Python side's whole cost of a write (the server's COPY does the rest), so
# it is done a chunk at a time, in C as far as possible, and streamed (see `_CopySource`).
#
# Values stay exact on both paths below. Strikes are Decimals and go as their own digits; floats go
# as their shortest round-trip decimal (Python's repr, or orjson's Ryu-style output: the same digits,
# sometimes another exponent spelling, e.g. 1e-05 / 0.00001), so numeric holds the value the
# provider gave, and reading it back as a float gives the same float; None becomes NULL; NaN and
# infinities are refused (numeric would store them).

try:  # orjson ships with Prefect (one of its dependencies); without it the exact slow path is used.
    import orjson as _orjson
except ImportError:  # pragma: no cover
    _orjson = None

# Rows formatted per `read()` of the COPY source: large enough that per-call overhead vanishes,
# small enough that the server parses one chunk while this process formats the next.
COPY_CHUNK_ROWS = 256
_OPTION_TYPES = frozenset({"C", "P"})
# The general path: one `%` per row (`%s` is `str()`: ISO dates, Decimal digits, float repr).
_ROW_TAIL = "\t".join(["%s"] * (len(CHAIN_COLUMNS) - 2)) + "\n"


class _CopySource:
    """The COPY text of one symbol-day, produced chunk by chunk as psycopg2 asks for it.

    psycopg2's `copy_expert` calls `read()` until it returns nothing and sends each chunk as it
    comes, so formatting chunk n+1 here overlaps with the server parsing and inserting chunk n.

    An exception raised here reaches psycopg2, which aborts the COPY (the server discards it) and
    raises a database error instead; the original exception is kept in `error` and re-raised.
    """

    def __init__(self, symbol_day: SymbolDayRows) -> None:
        prefix = f"{symbol_day.snapshot_time.isoformat()}\t{symbol_day.ticker_id}\t"
        self._prefix = prefix.encode()
        self._row_separator = b"\n" + self._prefix
        self._format_row = (prefix.replace("%", "%%") + _ROW_TAIL).__mod__
        self._rows = symbol_day.rows
        self._position = 0
        self.error: Exception | None = None

    def read(self, size: int = -1) -> bytes:
        start = self._position
        chunk = self._rows[start : start + COPY_CHUNK_ROWS]
        if not chunk:
            return b""
        self._position = start + len(chunk)
        try:
            text = self._fast(chunk) if _orjson is not None else None
            return text if text is not None else self._general(chunk)
        except Exception as exc:
            self.error = exc
            raise

    def text(self) -> bytes:
        """Everything at once (for tests and benchmarks that need the exact bytes COPY receives)."""
        return b"".join(iter(self.read, b""))

    def _fast(self, chunk: Sequence[ChainRow]) -> bytes | None:
        """One orjson call per chunk, then a few byte replacements turn its JSON into COPY text.

        Only for chunks of the plain types it renders exactly (dates, Decimal strikes as text,
        "C"/"P", floats, ints, None); anything else (None returned) takes the general path, which
        hands odd values to the database to accept or reject as before. The JSON → COPY step is safe
        because no such value contains a quote, comma, bracket or "null".
        """
        expirations, strikes, option_types, *numbers = zip(*chunk, strict=True)
        if not _OPTION_TYPES.issuperset(option_types):
            return None
        for column in numbers:
            try:
                total = sum(filter(None, column))
            except TypeError:  # not all numbers (Decimal and float mixed, a string...)
                return None
            if not math.isfinite(total):  # a NaN or infinity in the column, or just an overflow
                _refuse_non_finite(chunk)
        try:
            body = _orjson.dumps(list(zip(expirations, map(str, strikes), option_types, *numbers, strict=True)))
        except TypeError:  # a type orjson does not serialise natively (numpy scalars...)
            return None
        if b"N" in body or b"I" in body:  # a Decimal NaN or Infinity strike ("null" is lowercase)
            _refuse_non_finite(chunk)
            return None
        # [[row],[row]] → prefix + row \n prefix + row: strip quotes, commas become tabs, null is \N.
        rows = body[2:-2].replace(b"],[", self._row_separator).replace(b'"', b"").replace(b",", b"\t")
        return self._prefix + rows.replace(b"null", b"\\N") + b"\n"

    def _general(self, chunk: Sequence[ChainRow]) -> bytes:
        """Any values: `str()` of each, `None` → `\\N` (no chain value's text contains "None")."""
        text = "".join(map(self._format_row, chunk)).replace("None", "\\N")
        # Legitimate text here holds digits, ISO dates and times, a uuid (hex), "C"/"P", exponents
        # and \\N: never a lowercase "n" nor "aN", which every non-finite spelling ("nan", "inf",
        # "NaN", "sNaN", "Infinity") contains.
        if "n" in text or "aN" in text:
            _refuse_non_finite(chunk)
        return text.encode()


def _refuse_non_finite(chunk: Sequence[ChainRow]) -> None:
    """Raise for the first NaN or infinity in the chunk (PostgreSQL's numeric would store it)."""
    for row in chunk:
        for column, value in zip(CHAIN_COLUMNS[2:], row, strict=False):
            if isinstance(value, Decimal):
                finite = value.is_finite()
            else:
                finite = not isinstance(value, float) or math.isfinite(value)
            if not finite:
                raise ValueError(f"non-finite value {value!r} in column {column} reached the write path")


def _lock_symbol_day(cursor: psycopg2.extensions.cursor, ticker_id: str, snapshot_time: datetime) -> None:
    """Serialise writers of one symbol-day across processes (two overlapping backfills)."""
    cursor.execute(
        "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))",
        (f"kapman:symbol-day:{ticker_id}:{snapshot_time.isoformat()}",),
    )


_LEDGER_INSERT = (
    "INSERT INTO chain_snapshots (time, ticker_id, provider, contracts, underlying_close, simulated, close_estimated, "
    "risk_free_rate, dividend_yield) VALUES (%(time)s, %(ticker_id)s, %(provider)s, %(contracts)s, %(close)s, "
    "%(simulated)s, %(close_estimated)s, %(risk_free_rate)s, %(dividend_yield)s)"
)
_CLOSE_INSERT = (
    "INSERT INTO ohlcv (ticker_id, date, close) VALUES (%(ticker_id)s, %(session)s, %(close)s) "
    "ON CONFLICT (ticker_id, date) DO NOTHING"
)
# The trading system's `ohlcv.created_at` is nullable without a default: filled where it exists.
_CLOSE_INSERT_STAMPED = (
    "INSERT INTO ohlcv (ticker_id, date, close, created_at) VALUES (%(ticker_id)s, %(session)s, %(close)s, now()) "
    "ON CONFLICT (ticker_id, date) DO NOTHING"
)


def write_symbol_day(connection: psycopg2.extensions.connection, symbol_day: SymbolDayRows) -> WriteOutcome:
    """Write one symbol-day atomically; a symbol-day already in the ledger is left untouched, except
    simulated data, which a real source's write replaces (old rows, ledger row and close, in the same
    transaction under the same lock, so a reader sees the old day or the new one, never a mix).

    The close goes to `ohlcv` only where that system's own loader has not written the day (it owns
    the row and upserts it; we never overwrite it)."""
    close_insert = _CLOSE_INSERT_STAMPED if "created_at" in table_columns(connection, "ohlcv") else _CLOSE_INSERT
    replaced = False
    with transaction(connection) as cursor:
        _lock_symbol_day(cursor, symbol_day.ticker_id, symbol_day.snapshot_time)
        cursor.execute(
            "SELECT simulated, provider FROM chain_snapshots WHERE time = %s AND ticker_id = %s",
            (symbol_day.snapshot_time, symbol_day.ticker_id),
        )
        existing = cursor.fetchone()
        writer = Writer(symbol_day.provider, symbol_day.simulated, symbol_day.replace_other_provider)
        if existing is not None and not counts_as_complete(existing[0], existing[1], writer):
            _remove_symbol_day(cursor, symbol_day)
            replaced = True
        elif existing is not None:
            return WriteOutcome(rows_written=0, already_complete=True)

        # With the lock held and no ledger row, our rows can only collide with rows some other
        # system wrote without a ledger entry; COPY straight in, and merge only if that happens.
        rows_written = 0
        if symbol_day.rows:
            cursor.execute("SAVEPOINT direct_copy")
            try:
                _copy_rows(cursor, "options_chains", symbol_day)
                rows_written = len(symbol_day.rows)
                cursor.execute("RELEASE SAVEPOINT direct_copy")
            except psycopg2.errors.UniqueViolation:
                cursor.execute("ROLLBACK TO SAVEPOINT direct_copy")
                rows_written = _merge_via_staging(cursor, symbol_day)

        # The ledger row and the underlying close, in one round trip.
        exact_close = symbol_day.underlying_close is not None and not symbol_day.close_estimated
        statements = [_LEDGER_INSERT] + ([close_insert] if exact_close else [])
        cursor.execute(
            "; ".join(statements),
            {
                "time": symbol_day.snapshot_time,
                "ticker_id": symbol_day.ticker_id,
                "provider": symbol_day.provider,
                "contracts": len(symbol_day.rows),
                "close": symbol_day.underlying_close,
                "session": symbol_day.session,
                "simulated": symbol_day.simulated,
                "close_estimated": symbol_day.close_estimated,
                "risk_free_rate": symbol_day.risk_free_rate,
                "dividend_yield": symbol_day.dividend_yield,
            },
        )
    return WriteOutcome(rows_written=rows_written, already_complete=False, replaced=replaced)


@dataclass(frozen=True)
class Writer:
    """Who wants to write a symbol-day, and whether it may rewrite another real source's day."""

    provider: str
    simulated: bool
    replace_other_provider: bool = False


def counts_as_complete(stored_simulated: bool, stored_provider: str, writer: Writer) -> bool:
    """Whether a stored symbol-day satisfies this writer's run, so it is kept:
    - simulated data never satisfies a real source (its run replaces it), and a simulated source
      never replaces anything;
    - another real source's day is kept, unless the writer was asked to replace it (`--replace`)."""
    if writer.simulated:
        return True
    if stored_simulated:
        return False
    return stored_provider == writer.provider or not writer.replace_other_provider


def _remove_symbol_day(cursor: psycopg2.extensions.cursor, symbol_day: SymbolDayRows) -> None:
    """The replaced symbol-day's rows, ledger row and the close it wrote (its `ohlcv` row)."""
    key = {"time": symbol_day.snapshot_time, "ticker_id": symbol_day.ticker_id, "session": symbol_day.session}
    cursor.execute(
        "DELETE FROM options_chains WHERE time = %(time)s AND ticker_id = %(ticker_id)s; "
        "DELETE FROM ohlcv WHERE ticker_id = %(ticker_id)s AND date = %(session)s; "
        "DELETE FROM chain_snapshots WHERE time = %(time)s AND ticker_id = %(ticker_id)s",
        key,
    )


_COPY_COLUMNS = ", ".join(CHAIN_COLUMNS)


def _copy_rows(cursor: psycopg2.extensions.cursor, table: str, symbol_day: SymbolDayRows) -> None:
    """COPY the symbol-day's rows into `table`, streaming (see `_CopySource`)."""
    source = _CopySource(symbol_day)
    try:
        cursor.copy_expert(f"COPY {table} ({_COPY_COLUMNS}) FROM STDIN", source)
    except psycopg2.Error:
        if source.error is not None:
            # psycopg2 turned our exception into "COPY from stdin failed"; the cause is ours.
            raise source.error from None
        raise


def _merge_via_staging(cursor: psycopg2.extensions.cursor, symbol_day: SymbolDayRows) -> int:
    cursor.execute(
        "CREATE TEMP TABLE IF NOT EXISTS chain_staging (LIKE options_chains INCLUDING DEFAULTS) ON COMMIT DROP"
    )
    _copy_rows(cursor, "chain_staging", symbol_day)
    cursor.execute(
        f"INSERT INTO options_chains ({_COPY_COLUMNS}) SELECT {_COPY_COLUMNS} FROM chain_staging ON CONFLICT DO NOTHING"
    )
    return cursor.rowcount


@dataclass(frozen=True)
class LedgerEntry:
    """One complete symbol-day: who wrote it, how many contracts, and whether it is simulated."""

    snapshot_time: datetime
    symbol: str
    provider: str
    contracts: int
    simulated: bool
    underlying_close: float | None = None
    close_estimated: bool = False
    # The pricing inputs the source reported with the day; None where it reported none.
    risk_free_rate: float | None = None
    dividend_yield: float | None = None


# The ledger columns a `LedgerEntry` is read from, in field order (`cs` is `chain_snapshots`, `t` tickers).
LEDGER_SELECT = (
    "SELECT cs.time, t.symbol, cs.provider, cs.contracts, cs.simulated, cs.underlying_close::float8, "
    "cs.close_estimated, cs.risk_free_rate, cs.dividend_yield FROM chain_snapshots cs "
    "JOIN tickers t ON t.id = cs.ticker_id "
)


def ledger_entries(
    connection: psycopg2.extensions.connection,
    snapshot_times: Sequence[datetime],
    symbols: Sequence[str],
) -> dict[tuple[datetime, str], LedgerEntry]:
    """Complete symbol-days among `snapshot_times` × `symbols`, in one query."""
    if not snapshot_times or not symbols:
        return {}
    with transaction(connection) as cursor:
        cursor.execute(
            LEDGER_SELECT + "WHERE cs.time = ANY(%s::timestamptz[]) AND t.symbol = ANY(%s::varchar[])",
            (list(snapshot_times), list(symbols)),
        )
        return {(row[0], row[1]): LedgerEntry(*row) for row in cursor.fetchall()}
