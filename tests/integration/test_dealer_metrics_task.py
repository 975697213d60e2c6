"""Dealer metrics over stored chains: history strictness, INVALID cases, idempotence."""

import logging
from dataclasses import replace
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

import pytest

from markets.calendar import get_calendar
from tasks.dealer_metrics import run_dealer_metrics
from tests.days import day_request, run_day
from tests.dbutil import seed_watchlist
from tests.doubles import TinyChainProvider

SESSIONS = get_calendar("XNYS").sessions(date(2025, 12, 1), date(2025, 12, 9))  # 12-01 … 12-09, 7 sessions
TARGET = date(2025, 12, 9)


def ingest(database_url, sessions, symbols=("SPY",)):
    for session in sessions:
        report = run_day(session, day_request("tiny", symbols=tuple(symbols)), TinyChainProvider(), database_url)
        assert report.status in ("succeeded", "skipped")


def stored_metrics(db, symbol: str, session: date):
    with db, db.cursor() as cursor:
        cursor.execute(
            "SELECT d.dealer_metrics_json, d.model_version, d.updated_at FROM daily_snapshots d "
            "JOIN tickers t ON t.id = d.ticker_id WHERE t.symbol = %s AND d.time = %s",
            # The trading system's identity of a ticker-day, written out by hand: 23:59:59.999999 New York.
            (symbol, datetime.combine(session, time(23, 59, 59, 999999), tzinfo=ZoneInfo("America/New_York"))),
        )
        return cursor.fetchone()


@pytest.fixture
def watchlist(db):
    seed_watchlist(db, ["SPY", "QQQ"])


def test_complete_history_computes_every_history_metric(db, database_url, watchlist):
    ingest(database_url, SESSIONS)
    [result] = run_dealer_metrics(db, "SPY", [TARGET], lookback_sessions=5)
    assert (result.status, result.history_status, result.missing_sessions) == ("FULL", "COMPLETE", ())
    metrics, model_version, _ = stored_metrics(db, "SPY", TARGET)
    assert model_version == "dealer-v2"
    assert metrics["history_status"] == "COMPLETE" and metrics["missing_sessions"] == []
    history = metrics["history"]
    assert history["lookback_sessions"] == 5
    for key in ("gex_net_change_1d", "open_interest_total_change_1d", "gex_net_change_lookback", "gex_net_zscore"):
        assert history[key] is not None, key
    # Recorded from the provider that wrote the snapshot (TinyChainProvider declares simulated data).
    assert metrics["simulated"] is True and metrics["provider"] == "tiny"


def test_one_missing_prior_session_is_named_and_never_filled_from_an_older_one(db, database_url, watchlist, caplog):
    caplog.set_level(logging.WARNING, logger="kapman")
    ingest(
        database_url, [session for session in SESSIONS if session != date(2025, 12, 4)]
    )  # 12-01 stays as a stale candidate
    [result] = run_dealer_metrics(db, "SPY", [TARGET], lookback_sessions=5)
    assert result.history_status == "MISSING_HISTORY"
    assert result.missing_sessions == (date(2025, 12, 4),)
    metrics, _, _ = stored_metrics(db, "SPY", TARGET)
    assert metrics["missing_sessions"] == ["2025-12-04"]
    assert all(value is None for value in metrics["history"].values())
    assert metrics["gex_net"] is not None and metrics["status"] == "FULL"
    hint = (
        "python -m scripts.ingest_options --provider tiny --start-date 2025-12-04 --end-date 2025-12-04 --symbols SPY"
    )
    assert any(hint in record.getMessage() for record in caplog.records)


def test_missing_spot_is_invalid_with_reason(db, database_url, watchlist):
    ingest(database_url, SESSIONS)
    with db, db.cursor() as cursor:
        cursor.execute("DELETE FROM ohlcv WHERE date = %s", (TARGET,))
    [result] = run_dealer_metrics(db, "SPY", [TARGET], lookback_sessions=5)
    assert (result.status, result.status_reason) == ("INVALID", "missing_spot")
    assert stored_metrics(db, "SPY", TARGET)[0]["gex_net"] is None


def test_a_ticker_without_chain_is_invalid_and_the_others_go_on(db, database_url, watchlist):
    ingest(database_url, SESSIONS, symbols=("SPY",))
    ingest(database_url, SESSIONS[:1], symbols=("QQQ",))  # QQQ is known, but has no chain on TARGET
    qqq, spy = run_dealer_metrics(db, "QQQ", [TARGET], lookback_sessions=5) + run_dealer_metrics(
        db, "SPY", [TARGET], lookback_sessions=5
    )
    assert (qqq.status, qqq.status_reason) == ("INVALID", "no_chain")
    assert spy.status == "FULL"


def test_rerun_writes_the_same_json(db, database_url, watchlist):
    ingest(database_url, SESSIONS)
    run_dealer_metrics(db, "SPY", SESSIONS[-2:], lookback_sessions=5)
    first = [stored_metrics(db, "SPY", session) for session in SESSIONS[-2:]]
    run_dealer_metrics(db, "SPY", SESSIONS[-2:], lookback_sessions=5)
    second = [stored_metrics(db, "SPY", session) for session in SESSIONS[-2:]]
    assert [row[0] for row in first] == [row[0] for row in second]
    assert [row[2] for row in first] == [row[2] for row in second]  # untouched: nothing changed


class EstimatedCloseProvider(TinyChainProvider):
    """The tiny chain with a close its source could only estimate (as unicorn without stock prices)."""

    def fetch_chain(self, symbol, session, *, large=False):  # noqa: ANN001, ANN201
        return replace(super().fetch_chain(symbol, session, large=large), close_estimated=True)


def test_an_estimated_close_is_kept_flagged_out_of_ohlcv_and_makes_the_day_limited_at_best(db, database_url, watchlist):
    reports = [
        run_day(session, day_request("tiny", symbols=("SPY",)), EstimatedCloseProvider(), database_url)
        for session in SESSIONS
    ]
    assert {report.estimated_closes for report in reports} == {("SPY",)}  # the day's report says so
    with db, db.cursor() as cursor:
        cursor.execute("SELECT count(*), bool_and(close_estimated), count(underlying_close) FROM chain_snapshots")
        assert cursor.fetchone() == (len(SESSIONS), True, len(SESSIONS))
        cursor.execute("SELECT count(*) FROM ohlcv")
        assert cursor.fetchone() == (0,)  # never written as the session's close

    [result] = run_dealer_metrics(db, "SPY", [TARGET], lookback_sessions=5)

    assert (result.status, result.status_reason, result.history_status) == ("LIMITED", "estimated_spot", "COMPLETE")
    metrics = stored_metrics(db, "SPY", TARGET)[0]
    assert metrics["spot_estimated"] is True and metrics["gex_net"] is not None
