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

# Binary COPY of one stored contract: every value fixed-width and never NULL (NULLs are mapped to
# NaN or a sentinel in SQL), so the whole answer is one numpy structured array, read without a
# Python object per row. Big-endian, as PostgreSQL's binary COPY format sends it.
_CONTRACT_RECORD = np.dtype(
    [
        ("fields", ">i2"),
        ("time_length", ">i4"),
        ("time", ">i8"),  # timestamptz: microseconds since 2000-01-01 UTC
        ("expiration_length", ">i4"),
        ("expiration", ">i4"),  # days since 2000-01-01; MISSING_EXPIRATION where NULL
        ("strike_length", ">i4"),
        ("strike", ">f8"),
        ("type_length", ">i4"),
        ("call_code", ">i2"),  # 1 call, 0 put, -1 anything else
        ("gamma_length", ">i4"),
        ("gamma", ">f8"),
        ("open_interest_length", ">i4"),
        ("open_interest", ">f8"),
        ("iv_length", ">i4"),
        ("implied_volatility", ">f8"),
    ]
)
_FIELD_LENGTHS = {
    "time_length": 8,
    "expiration_length": 4,
    "strike_length": 8,
    "type_length": 2,
    "gamma_length": 8,
    "open_interest_length": 8,
    "iv_length": 8,
}
MISSING_EXPIRATION = -(2**31)
_PG_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
_PG_EPOCH_DAY = date(2000, 1, 1).toordinal()
_COPY_SIGNATURE = b"PGCOPY\n\xff\r\n\x00"
_CONTRACTS_QUERY = (
    f"COPY (SELECT time, COALESCE(expiration_date - DATE '2000-01-01', {MISSING_EXPIRATION}), "
    "COALESCE(strike_price::float8, 'NaN'), (CASE option_type WHEN 'C' THEN 1 WHEN 'P' THEN 0 ELSE -1 END)::int2, "
    "COALESCE(gamma::float8, 'NaN'), COALESCE(open_interest::float8, 'NaN'), "
    "COALESCE(implied_volatility::float8, 'NaN') FROM options_chains "
    "WHERE ticker_id = %s AND time = ANY(%s::timestamptz[])) TO STDOUT (FORMAT binary)"
)


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


def _contract_records(answer: bytes) -> np.ndarray:
    """Parse a binary COPY answer of `_CONTRACTS_QUERY` into `_CONTRACT_RECORD`s."""
    if not answer.startswith(_COPY_SIGNATURE):
        raise ValueError("not a PostgreSQL binary COPY answer")
    extension = int.from_bytes(answer[15:19], "big")
    start = 19 + extension
    body = len(answer) - start - 2  # the trailer is an int16 -1
    if body % _CONTRACT_RECORD.itemsize or answer[-2:] != b"\xff\xff":
        raise ValueError("binary COPY answer of unexpected layout")
    records = np.frombuffer(answer, dtype=_CONTRACT_RECORD, count=body // _CONTRACT_RECORD.itemsize, offset=start)
    if records.size and (
        np.any(records["fields"] != 7) or any(np.any(records[name] != size) for name, size in _FIELD_LENGTHS.items())
    ):
        raise ValueError("binary COPY answer of unexpected layout")
    return records


def load_chain_columns(
    connection: psycopg2.extensions.connection, ticker_id: str, snapshot_times: Sequence[datetime]
) -> dict[datetime, ChainColumns]:
    """Every stored contract of `ticker_id` at each of `snapshot_times`, in one binary COPY, split per
    snapshot time with numpy (no Python object per row)."""
    if not snapshot_times:
        return {}
    records = _contract_records(copy_binary(connection, _CONTRACTS_QUERY, (ticker_id, list(snapshot_times))))
    if records.size == 0:
        return {}
    # Native-endian columns once for the whole answer, then split per snapshot time (rows arrive
    # grouped by time in practice; a stable sort makes sure of it without reordering within a day).
    stamps = records["time"].astype(np.int64)
    columns = {
        "expiration_day": records["expiration"].astype(np.int32),
        "strike": records["strike"].astype(np.float64),
        "call_code": records["call_code"].astype(np.int16),
        "gamma": records["gamma"].astype(np.float64),
        "open_interest": records["open_interest"].astype(np.float64),
        "implied_volatility": records["implied_volatility"].astype(np.float64),
    }
    if np.any(stamps[1:] < stamps[:-1]):
        order = np.argsort(stamps, kind="stable")
        stamps = stamps[order]
        columns = {name: column[order] for name, column in columns.items()}
    starts = np.concatenate([[0], np.flatnonzero(np.diff(stamps)) + 1])
    ends = np.concatenate([starts[1:], [stamps.size]])
    by_micros = {_microseconds(stamp): stamp for stamp in snapshot_times}
    chains: dict[datetime, ChainColumns] = {}
    for start, end in zip(starts.tolist(), ends.tolist(), strict=True):
        stamp = by_micros.get(int(stamps[start]))
        if stamp is None:  # pragma: no cover - the query asked for these times only
            continue
        chains[stamp] = ChainColumns(**{name: column[start:end] for name, column in columns.items()})
    return chains


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
