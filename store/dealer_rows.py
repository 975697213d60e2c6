"""Reads the dealer-metrics step needs (chains as columns, spots, coverage) and writes its results.

Chains come back as numpy columns, one binary COPY per ticker for every session asked, so the math
in `dealer/` never sees a database and the database is asked once per ticker rather than per day;
results go back in one statement per ticker.
"""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime

import numpy as np
import psycopg2.extensions
from psycopg2.extras import execute_values

from store.chains import LEDGER_SELECT, LedgerEntry
from store.connection import transaction
from store.schema import table_columns

MISSING_EXPIRATION = -(2**31)
_PG_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
_PG_EPOCH_DAY = date(2000, 1, 1).toordinal()
_COPY_SIGNATURE = b"PGCOPY\n\xff\r\n\x00"
# One row per snapshot time: its contracts as arrays, one per column, aggregated in one pass so they
# stay aligned. Every element is fixed-width and never NULL (NULLs become NaN or a sentinel in SQL),
# so each array is read with one numpy view, and a ticker's answer is a few dozen COPY rows rather
# than one per contract (the client's cost no longer grows with the contracts).
_CONTRACTS_QUERY = (
    "COPY (SELECT time, "
    f"array_agg(COALESCE(expiration_date - DATE '2000-01-01', {MISSING_EXPIRATION})), "
    "array_agg(COALESCE(strike_price::float8, 'NaN')), "
    "array_agg((CASE option_type WHEN 'C' THEN 1 WHEN 'P' THEN 0 ELSE -1 END)::int2), "
    "array_agg(COALESCE(gamma::float8, 'NaN')), array_agg(COALESCE(open_interest::float8, 'NaN')), "
    "array_agg(COALESCE(implied_volatility::float8, 'NaN')) FROM options_chains "
    "WHERE ticker_id = %s AND time = ANY(%s::timestamptz[]) GROUP BY time) TO STDOUT (FORMAT binary)"
)
# The arrays of a `_CONTRACTS_QUERY` row in order: ChainColumns field and big-endian element type.
_ARRAY_COLUMNS: tuple[tuple[str, str], ...] = (
    ("expiration_day", ">i4"),
    ("strike", ">f8"),
    ("call_code", ">i2"),
    ("gamma", ">f8"),
    ("open_interest", ">f8"),
    ("implied_volatility", ">f8"),
)
_NATIVE = {">i4": np.int32, ">i2": np.int16, ">f8": np.float64}


@dataclass(frozen=True)
class ChainColumns:
    """One ticker-session's stored contracts as arrays, exactly as stored: NULL values are NaN, a
    NULL expiration is `MISSING_EXPIRATION`, an option type other than C/P has `call_code` −1 (the
    dealer math drops and counts such rows per ticker-day, `dealer.ChainArrays.from_stored`)."""

    expiration_day: np.ndarray  # int32, days since 2000-01-01
    strike: np.ndarray  # float64
    call_code: np.ndarray  # int16
    gamma: np.ndarray  # float64
    open_interest: np.ndarray  # float64
    implied_volatility: np.ndarray  # float64

    def __len__(self) -> int:
        return len(self.strike)

    def days_to_expiry(self, session: date) -> np.ndarray:
        """Calendar days from `session` to each expiration, as floats; NaN where it is missing."""
        days = self.expiration_day.astype(np.float64) - float(session.toordinal() - _PG_EPOCH_DAY)
        days[self.expiration_day == MISSING_EXPIRATION] = np.nan
        return days


def _microseconds(stamp: datetime) -> int:
    delta = stamp - _PG_EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def copy_binary(connection: psycopg2.extensions.connection, query: str, parameters: Sequence[object]) -> bytes:
    """The binary COPY answer of `query` (a `COPY (...) TO STDOUT (FORMAT binary)` with %s
    parameters, bound client-side: COPY takes no server-side parameters)."""
    buffer = io.BytesIO()
    with transaction(connection) as cursor:
        cursor.copy_expert(cursor.mogrify(query, parameters).decode(), buffer)
    return buffer.getvalue()


def _layout_error() -> ValueError:
    return ValueError("binary COPY answer of unexpected layout")


def _read_array(answer: bytes, offset: int, element: str) -> tuple[np.ndarray, int]:
    """A one-dimensional array without NULLs at `offset` of a binary COPY answer (its int32 length
    first): the values as a native numpy array, and the offset after it."""
    length = int.from_bytes(answer[offset : offset + 4], "big", signed=True)
    start = offset + 4
    header = np.frombuffer(answer, dtype=">i4", count=5, offset=start)
    if length < 20 or header[0] != 1 or header[1] != 0 or header[4] != 1:
        raise _layout_error()  # not 1-dimensional, has NULLs, or not 1-based
    count = int(header[3])
    cells = np.frombuffer(answer, dtype=[("size", ">i4"), ("value", element)], count=count, offset=start + 20)
    if 20 + cells.nbytes != length or np.any(cells["size"] != np.dtype(element).itemsize):
        raise _layout_error()
    return cells["value"].astype(_NATIVE[element]), start + length


def _snapshot_arrays(answer: bytes) -> dict[int, ChainColumns]:
    """Parse a binary COPY answer of `_CONTRACTS_QUERY`: microseconds since 2000-01-01 → columns."""
    if not answer.startswith(_COPY_SIGNATURE) or answer[-2:] != b"\xff\xff":
        raise ValueError("not a PostgreSQL binary COPY answer")
    offset = 19 + int.from_bytes(answer[15:19], "big")
    end = len(answer) - 2  # the trailer is an int16 -1
    chains: dict[int, ChainColumns] = {}
    while offset < end:
        fields = int.from_bytes(answer[offset : offset + 2], "big", signed=True)
        time_length = int.from_bytes(answer[offset + 2 : offset + 6], "big", signed=True)
        if fields != 1 + len(_ARRAY_COLUMNS) or time_length != 8:
            raise _layout_error()
        stamp = int.from_bytes(answer[offset + 6 : offset + 14], "big", signed=True)
        offset += 14
        columns: dict[str, np.ndarray] = {}
        for name, element in _ARRAY_COLUMNS:
            columns[name], offset = _read_array(answer, offset, element)
        if len({column.size for column in columns.values()}) != 1:
            raise _layout_error()
        chains[stamp] = ChainColumns(**columns)
    if offset != end:
        raise _layout_error()
    return chains


def load_chain_columns(
    connection: psycopg2.extensions.connection, ticker_id: str, snapshot_times: Sequence[datetime]
) -> dict[datetime, ChainColumns]:
    """Every stored contract of `ticker_id` at each of `snapshot_times`, in one binary COPY of one
    row per snapshot (no Python object per contract). A time with no rows is absent."""
    if not snapshot_times:
        return {}
    by_micros = {_microseconds(stamp): stamp for stamp in snapshot_times}
    chains = _snapshot_arrays(copy_binary(connection, _CONTRACTS_QUERY, (ticker_id, list(snapshot_times))))
    return {by_micros[micros]: columns for micros, columns in chains.items() if micros in by_micros}


def session_closes(
    connection: psycopg2.extensions.connection, ticker_id: str, sessions: Sequence[date]
) -> dict[date, float]:
    """The underlying's close per session (spot for dealer metrics), where known."""
    with transaction(connection) as cursor:
        cursor.execute(
            "SELECT date, close::float8 FROM ohlcv WHERE ticker_id = %s AND date = ANY(%s::date[]) "
            "AND close IS NOT NULL",
            (ticker_id, list(sessions)),
        )
        return dict(cursor.fetchall())


def complete_snapshots(
    connection: psycopg2.extensions.connection, ticker_id: str, snapshot_times: Sequence[datetime]
) -> dict[datetime, LedgerEntry]:
    """Which of `snapshot_times` have a complete symbol-day in the ledger, with its ledger entry."""
    with transaction(connection) as cursor:
        cursor.execute(
            LEDGER_SELECT + "WHERE cs.ticker_id = %s AND cs.time = ANY(%s::timestamptz[])",
            (ticker_id, list(snapshot_times)),
        )
        return {row[0]: LedgerEntry(*row) for row in cursor.fetchall()}


@dataclass(frozen=True)
class DealerRow:
    """One ticker-day's dealer result as written: its identity, its JSON (already serialised, so a
    value JSON cannot hold fails that day alone, before anything is sent) and the model version."""

    snapshot_time: datetime
    ticker_id: str
    metrics_json: str
    model_version: str


def dealer_json(metrics: dict) -> str:
    """The stored text of a metrics dict: sorted keys, no NaN (a NaN here is a bug, raised)."""
    return json.dumps(metrics, sort_keys=True, allow_nan=False)


def upsert_dealer_metrics(connection: psycopg2.extensions.connection, rows: Sequence[DealerRow]) -> int:
    """Insert each ticker-day's row, or update only its dealer JSON and model version, in one
    statement and transaction; returns how many rows were written (unchanged rows are not touched).

    In the trading system one `daily_snapshots` row per ticker-day carries the JSON of several jobs
    (technical, volatility, price, Wyckoff): their columns are never named here. `created_at` and
    `updated_at` are written only where the table has them.
    """
    if not rows:
        return 0
    columns = table_columns(connection, "daily_snapshots")
    stamped = "created_at" in columns
    touched = ", updated_at = now()" if "updated_at" in columns else ""
    with transaction(connection) as cursor:
        execute_values(
            cursor,
            f"INSERT INTO daily_snapshots (time, ticker_id, dealer_metrics_json, model_version"
            f"{', created_at' if stamped else ''}) VALUES %s "
            "ON CONFLICT (time, ticker_id) DO UPDATE "
            f"SET dealer_metrics_json = EXCLUDED.dealer_metrics_json, model_version = EXCLUDED.model_version{touched} "
            "WHERE daily_snapshots.dealer_metrics_json IS DISTINCT FROM EXCLUDED.dealer_metrics_json "
            "OR daily_snapshots.model_version IS DISTINCT FROM EXCLUDED.model_version",
            [(row.snapshot_time, row.ticker_id, row.metrics_json, row.model_version) for row in rows],
            template=f"(%s, %s, %s::jsonb, %s{', now()' if stamped else ''})",
            page_size=len(rows),
        )
        return cursor.rowcount


def read_dealer_metrics(connection: psycopg2.extensions.connection, snapshot_time: datetime) -> dict[str, dict]:
    """symbol → stored metrics JSON at one snapshot time (for reports and the demo)."""
    with transaction(connection) as cursor:
        cursor.execute(
            "SELECT t.symbol, d.dealer_metrics_json FROM daily_snapshots d JOIN tickers t ON t.id = d.ticker_id "
            "WHERE d.time = %s ORDER BY t.symbol",
            (snapshot_time,),
        )
        return dict(cursor.fetchall())
