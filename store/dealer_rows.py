"""Reads the dealer-metrics step needs (chains as columns, spots, coverage) and writes its results.

Chains come back as numpy columns, one query per ticker for every session asked, so the math in
`dealer/` never sees a database and the database is asked once per ticker rather than per day.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

import numpy as np
import psycopg2.extensions
from psycopg2.extras import Json

from store.chains import LedgerEntry
from store.connection import transaction
from store.schema import table_columns


@dataclass(frozen=True)
class ChainColumns:
    """One ticker-session's contracts as arrays; NULLs are NaN."""

    expiration_date: np.ndarray  # datetime64[D]
    strike: np.ndarray  # float64
    is_call: np.ndarray  # bool
    gamma: np.ndarray  # float64
    open_interest: np.ndarray  # float64
    implied_volatility: np.ndarray  # float64

    def __len__(self) -> int:
        return len(self.strike)


def load_chain_columns(
    connection: psycopg2.extensions.connection, ticker_id: str, snapshot_times: Sequence[datetime]
) -> dict[datetime, ChainColumns]:
    """Every stored contract of `ticker_id` at each of `snapshot_times`, in one query."""
    if not snapshot_times:
        return {}
    with transaction(connection) as cursor:
        cursor.execute(
            "SELECT time, expiration_date, strike_price::float8, option_type = 'C', gamma::float8, "
            "open_interest::float8, implied_volatility::float8 FROM options_chains "
            "WHERE ticker_id = %s AND time = ANY(%s::timestamptz[]) ORDER BY time, expiration_date, strike_price",
            (ticker_id, list(snapshot_times)),
        )
        rows = cursor.fetchall()
    by_time: dict[datetime, list[tuple]] = {}
    for row in rows:
        by_time.setdefault(row[0], []).append(row[1:])
    return {stamp: _columns(contracts) for stamp, contracts in by_time.items()}


def _columns(contracts: list[tuple]) -> ChainColumns:
    expirations, strikes, calls, gammas, interest, vols = zip(*contracts, strict=True)

    def floats(values: tuple) -> np.ndarray:
        return np.array([np.nan if value is None else value for value in values], dtype=np.float64)

    return ChainColumns(
        expiration_date=np.array(expirations, dtype="datetime64[D]"),
        strike=np.array(strikes, dtype=np.float64),
        is_call=np.array(calls, dtype=bool),
        gamma=floats(gammas),
        open_interest=floats(interest),
        implied_volatility=floats(vols),
    )


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
            "SELECT cs.time, t.symbol, cs.provider, cs.contracts, cs.simulated, cs.underlying_close::float8, "
            "cs.close_estimated FROM chain_snapshots cs "
            "JOIN tickers t ON t.id = cs.ticker_id WHERE cs.ticker_id = %s AND cs.time = ANY(%s::timestamptz[])",
            (ticker_id, list(snapshot_times)),
        )
        return {row[0]: LedgerEntry(*row) for row in cursor.fetchall()}


def upsert_dealer_metrics(
    connection: psycopg2.extensions.connection,
    snapshot_time: datetime,
    ticker_id: str,
    metrics: dict,
    model_version: str,
) -> bool:
    """Insert one ticker-day's row, or update only its dealer JSON and model version; True when the
    stored JSON changed.

    In the trading system one `daily_snapshots` row per ticker-day carries the JSON of several jobs
    (technical, volatility, price, Wyckoff): their columns are never named here. `created_at` and
    `updated_at` are written only where the table has them.
    """
    columns = table_columns(connection, "daily_snapshots")
    stamped = "created_at" in columns
    touched = ", updated_at = now()" if "updated_at" in columns else ""
    with transaction(connection) as cursor:
        cursor.execute(
            f"INSERT INTO daily_snapshots (time, ticker_id, dealer_metrics_json, model_version"
            f"{', created_at' if stamped else ''}) VALUES (%s, %s, %s, %s{', now()' if stamped else ''}) "
            "ON CONFLICT (time, ticker_id) DO UPDATE "
            f"SET dealer_metrics_json = EXCLUDED.dealer_metrics_json, model_version = EXCLUDED.model_version{touched} "
            "WHERE daily_snapshots.dealer_metrics_json IS DISTINCT FROM EXCLUDED.dealer_metrics_json "
            "OR daily_snapshots.model_version IS DISTINCT FROM EXCLUDED.model_version",
            (snapshot_time, ticker_id, Json(metrics, dumps=_dumps), model_version),
        )
        return cursor.rowcount == 1


def _dumps(value: dict) -> str:
    return json.dumps(value, sort_keys=True, allow_nan=False)


def read_dealer_metrics(connection: psycopg2.extensions.connection, snapshot_time: datetime) -> dict[str, dict]:
    """symbol → stored metrics JSON at one snapshot time (for reports and the demo)."""
    with transaction(connection) as cursor:
        cursor.execute(
            "SELECT t.symbol, d.dealer_metrics_json FROM daily_snapshots d JOIN tickers t ON t.id = d.ticker_id "
            "WHERE d.time = %s ORDER BY t.symbol",
            (snapshot_time,),
        )
        return dict(cursor.fetchall())
