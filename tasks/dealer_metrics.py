"""`compute_dealer_metrics`: every requested session of one ticker, snapshot and history metrics.

History is strict: each of the `lookback_sessions` calendar sessions before a day must have a
complete snapshot (ledger row) for the ticker, or the day is `MISSING_HISTORY` with the missing
sessions named. Nothing older or newer is ever used in place of a missing session.

Every snapshot a run needs (the requested sessions and their priors) is computed once, from the
stored chain, by the current model, and history reuses it: a prior day's stored JSON, whatever
model wrote it (`dealer-v1` rows included), is never mixed into a `dealer-v2` history.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import date, datetime
from enum import StrEnum

import psycopg2.extensions
from prefect import task
from prefect.cache_policies import NO_CACHE

from dealer import (
    DEFAULT_CONFIG,
    MODEL_VERSION,
    ChainArrays,
    DealerConfig,
    HistoryMetrics,
    SnapshotMetrics,
    SnapshotStatus,
    compute_history_metrics,
    compute_snapshot_metrics,
    pricing_inputs,
)
from markets.calendar import get_calendar, previous_sessions
from markets.snapshot import daily_snapshot_time, snapshot_time_for
from store.chains import LedgerEntry
from store.connection import DatabaseTarget, connect
from store.dealer_rows import (
    ChainColumns,
    DealerRow,
    complete_snapshots,
    dealer_json,
    load_chain_columns,
    session_closes,
    upsert_dealer_metrics,
)
from store.tickers import ticker_ids

logger = logging.getLogger("kapman.dealer")


class HistoryStatus(StrEnum):
    """Whether every prior session a day's history metrics need has a complete snapshot."""

    COMPLETE = "COMPLETE"
    MISSING_HISTORY = "MISSING_HISTORY"


class TickerDayStatus(StrEnum):
    """A ticker-day's outcome: its snapshot status, or ERROR when it could not be computed."""

    FULL = SnapshotStatus.FULL.value
    LIMITED = SnapshotStatus.LIMITED.value
    INVALID = SnapshotStatus.INVALID.value
    ERROR = "ERROR"


@dataclass(frozen=True)
class TickerDayMetrics:
    """One ticker-day's outcome: a row of the dealer-metrics table artifact."""

    symbol: str
    session: date
    status: TickerDayStatus
    status_reason: str
    history_status: HistoryStatus | None
    missing_sessions: tuple[date, ...] = ()
    gex_net: float | None = None
    gamma_flip: float | None = None
    dgpi: float | None = None
    position: str | None = None
    error: str | None = None


def backfill_hint(symbol: str, missing: list[date], provider: str | None) -> str:
    """The command that fills exactly the missing sessions' snapshots for this ticker, from the
    provider that wrote its day (a hint without it would fill them from the default source)."""
    source = f" --provider {provider}" if provider else ""
    return (
        f"python -m scripts.ingest_options{source} --start-date {min(missing).isoformat()} "
        f"--end-date {max(missing).isoformat()} --symbols {symbol}"
    )


def _chain_arrays(columns: ChainColumns | None, session: date) -> ChainArrays:
    """The session's stored chain as the dealer math takes it; unusable rows dropped and counted."""
    if columns is None:
        return ChainArrays.empty()
    return ChainArrays.from_stored(
        strike=columns.strike,
        call_code=columns.call_code,
        dte=columns.days_to_expiry(session),
        gamma=columns.gamma,
        open_interest=columns.open_interest,
        implied_volatility=columns.implied_volatility,
    )


def _missing_chain() -> SnapshotMetrics:
    """INVALID for a ticker-day with no complete snapshot: reported, never skipped silently."""
    invalid = compute_snapshot_metrics(ChainArrays.empty(), None)
    return replace(invalid, status_reason="no_chain")


def _snapshot(
    columns: ChainColumns | None,
    session: date,
    spot: float | None,
    entry: LedgerEntry,
    spot_estimated: bool,
    config: DealerConfig,
) -> SnapshotMetrics:
    """One session's snapshot metrics, priced with the inputs its source reported (else the defaults)."""
    pricing = pricing_inputs(entry.risk_free_rate, entry.dividend_yield, config)
    snapshot = compute_snapshot_metrics(_chain_arrays(columns, session), spot, config, pricing)
    if spot_estimated and snapshot.status == SnapshotStatus.FULL:
        # An estimated spot is never silently exact: LIMITED at best.
        snapshot = replace(snapshot, status=SnapshotStatus.LIMITED, status_reason="estimated_spot")
    return snapshot


def _error(symbol: str, session: date, exc: BaseException) -> TickerDayMetrics:
    logger.error("dealer metrics failed symbol=%s session=%s error=%s", symbol, session, exc)
    return TickerDayMetrics(symbol, session, TickerDayStatus.ERROR, "error", None, error=str(exc))


@dataclass(frozen=True)
class TickerInputs:
    """Everything one ticker's run reads from the store, before any math: the sessions asked, the
    prior sessions each one's history needs, the ledger of complete snapshots, their chains as
    columns and the spots (estimated ones flagged)."""

    symbol: str
    ticker_id: str
    sessions: list[date]
    lookback_sessions: int
    priors: dict[date, list[date]]
    times: dict[date, datetime]
    ledger: dict[datetime, LedgerEntry]
    complete: list[date]
    chains: dict[datetime, ChainColumns]
    spots: dict[date, float]
    estimated: frozenset[date]


def load_ticker_inputs(
    connection: psycopg2.extensions.connection,
    symbol: str,
    sessions: list[date],
    *,
    lookback_sessions: int = 5,
    calendar: str = "XNYS",
) -> TickerInputs | None:
    """The ticker's inputs for `sessions` and their priors, in four queries (one binary COPY for
    every chain); None when the ticker is not in the store."""
    trading_calendar = get_calendar(calendar)
    priors = {session: previous_sessions(trading_calendar, session, lookback_sessions) for session in sessions}
    needed = sorted(set(sessions).union(*priors.values()))
    times = {session: snapshot_time_for(session) for session in needed}
    ticker_id = ticker_ids(connection, [symbol]).get(symbol)
    if ticker_id is None:
        return None
    ledger = complete_snapshots(connection, ticker_id, list(times.values()))
    complete = [session for session in needed if times[session] in ledger]
    chains = load_chain_columns(connection, ticker_id, [times[session] for session in complete])
    spots = session_closes(connection, ticker_id, complete)
    # Where the source had no close, an estimate recorded with the day stands in, flagged.
    estimated = frozenset(
        session
        for session in complete
        if session not in spots and ledger[times[session]].close_estimated and ledger[times[session]].underlying_close
    )
    spots.update({session: ledger[times[session]].underlying_close for session in estimated})
    return TickerInputs(
        symbol, ticker_id, sessions, lookback_sessions, priors, times, ledger, complete, chains, spots, estimated
    )


def compute_ticker(
    inputs: TickerInputs, *, config: DealerConfig = DEFAULT_CONFIG
) -> tuple[dict[date, TickerDayMetrics], list[DealerRow]]:
    """Each session's result and the rows to write: every needed snapshot computed once (a failure
    stays with its own session and the days whose history needs it), no database involved."""
    times, ledger = inputs.times, inputs.ledger
    snapshots: dict[date, SnapshotMetrics] = {}
    failed: dict[date, Exception] = {}
    for session in inputs.complete:
        try:
            snapshots[session] = _snapshot(
                inputs.chains.get(times[session]),
                session,
                inputs.spots.get(session),
                ledger[times[session]],
                session in inputs.estimated,
                config,
            )
        except Exception as exc:  # a bad ticker-day is reported with its own session only
            failed[session] = exc

    results: dict[date, TickerDayMetrics] = {}
    rows: list[DealerRow] = []
    for session in inputs.sessions:
        try:
            if session in failed:
                raise failed[session]
            result, payload = _one_day(
                inputs.symbol, session, inputs.priors[session], snapshots, failed, ledger.get(times[session]),
                inputs.lookback_sessions, spot_estimated=session in inputs.estimated,
            )  # fmt: skip
            rows.append(DealerRow(daily_snapshot_time(session), inputs.ticker_id, dealer_json(payload), MODEL_VERSION))
            results[session] = result
        except Exception as exc:  # a bad ticker-day is reported; the batch goes on
            results[session] = _error(inputs.symbol, session, exc)
    return results, rows


def run_dealer_metrics(
    connection: psycopg2.extensions.connection,
    symbol: str,
    sessions: list[date],
    *,
    lookback_sessions: int = 5,
    calendar: str = "XNYS",
    config: DealerConfig = DEFAULT_CONFIG,
) -> list[TickerDayMetrics]:
    """Compute and upsert metrics for `symbol` on each session; one bad day never stops the rest.

    Three phases, each its own function (and timed on its own by `bench/dealer_metrics.py`): the
    ticker's inputs are read in one go, each needed snapshot computed once, and the results
    written in one statement.
    """
    inputs = load_ticker_inputs(connection, symbol, sessions, lookback_sessions=lookback_sessions, calendar=calendar)
    if inputs is None:
        return [
            TickerDayMetrics(
                symbol,
                session,
                TickerDayStatus.INVALID,
                "unknown_ticker",
                None,
                error="no such ticker in the store",
            )
            for session in sessions
        ]
    results, rows = compute_ticker(inputs, config=config)
    try:
        upsert_dealer_metrics(connection, rows)
    except Exception as exc:  # nothing of this ticker was written
        written = {row.snapshot_time for row in rows}
        for session in sessions:
            if daily_snapshot_time(session) in written:
                results[session] = _error(symbol, session, exc)
    return [results[session] for session in sessions]


def _one_day(
    symbol: str,
    session: date,
    prior_sessions: list[date],
    snapshots: dict[date, SnapshotMetrics],
    failed: dict[date, Exception],
    entry: LedgerEntry | None,
    lookback_sessions: int,
    *,
    spot_estimated: bool = False,
) -> tuple[TickerDayMetrics, dict]:
    """One ticker-day's result row and stored JSON (written by the caller with the others)."""
    today = snapshots.get(session) or _missing_chain()
    broken = [prior for prior in prior_sessions if prior in failed]
    if broken:
        raise RuntimeError(
            f"prior session {broken[0].isoformat()} could not be computed ({failed[broken[0]]}), so neither can"
            " this day's history"
        )
    missing = [prior for prior in prior_sessions if prior not in snapshots]
    if missing:
        history_status, history = HistoryStatus.MISSING_HISTORY, HistoryMetrics.empty()
        logger.warning(
            "MISSING_HISTORY symbol=%s session=%s missing_sessions=%s fill_with=%r",
            symbol,
            session.isoformat(),
            ",".join(day.isoformat() for day in missing),
            backfill_hint(symbol, missing, entry.provider if entry else None),
        )
    else:
        history_status = HistoryStatus.COMPLETE
        history = compute_history_metrics(today, [snapshots[prior] for prior in prior_sessions])
    payload = {
        **today.to_json(),
        "symbol": symbol,
        "session": session.isoformat(),
        "provider": entry.provider if entry else None,
        "simulated": bool(entry and entry.simulated),
        "spot_estimated": spot_estimated,
        "lookback_sessions": lookback_sessions,
        "history_status": str(history_status),
        "missing_sessions": [day.isoformat() for day in missing],
        "history": history.to_json(),
    }
    result = TickerDayMetrics(
        symbol=symbol,
        session=session,
        status=TickerDayStatus(today.status),
        status_reason=today.status_reason,
        history_status=history_status,
        missing_sessions=tuple(missing),
        gex_net=payload.get("gex_net"),
        gamma_flip=payload.get("gamma_flip"),
        dgpi=payload.get("dgpi"),
        position=payload.get("position"),
    )
    return result, payload


@task(
    name="compute_dealer_metrics",
    task_run_name="dealer-{symbol}",
    retries=1,
    retry_delay_seconds=5,
    cache_policy=NO_CACHE,
)
def compute_dealer_metrics(
    target: DatabaseTarget,
    symbol: str,
    sessions: list[date],
    lookback_sessions: int,
    calendar: str,
    include_expiring: bool = False,
) -> list[TickerDayMetrics]:
    """Dealer metrics of one ticker over the requested sessions, in the run's database `target`."""
    connection = connect(target)
    config = replace(DEFAULT_CONFIG, include_expiring=include_expiring)
    try:
        return run_dealer_metrics(
            connection, symbol, sessions, lookback_sessions=lookback_sessions, calendar=calendar, config=config
        )
    finally:
        connection.close()
