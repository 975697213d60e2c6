"""Dealer metrics over stored chains: history strictness, INVALID cases, idempotence."""

import logging
from dataclasses import replace
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from dealer import DealerConfig
from markets.calendar import get_calendar
from markets.snapshot import daily_snapshot_time, snapshot_time_for
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


class PricedProvider(TinyChainProvider):
    """The tiny chain from a source that reports the rate and dividend yield it priced with."""

    def fetch_chain(self, symbol, session, *, large=False):  # noqa: ANN001, ANN201
        return replace(super().fetch_chain(symbol, session, large=large), risk_free_rate=0.043, dividend_yield=0.004)


def test_the_pricing_inputs_a_source_reports_are_stored_with_the_day_and_price_the_profile(db, database_url, watchlist):
    for session in SESSIONS:
        run_day(session, day_request("tiny", symbols=("SPY",)), PricedProvider(), database_url)
        run_day(session, day_request("tiny", symbols=("QQQ",)), TinyChainProvider(), database_url)
    with db, db.cursor() as cursor:
        cursor.execute(
            "SELECT t.symbol, cs.risk_free_rate, cs.dividend_yield FROM chain_snapshots cs "
            "JOIN tickers t ON t.id = cs.ticker_id GROUP BY 1, 2, 3 ORDER BY 1"
        )
        assert cursor.fetchall() == [("QQQ", None, None), ("SPY", 0.043, 0.004)]

    run_dealer_metrics(db, "SPY", [TARGET], lookback_sessions=5)
    run_dealer_metrics(db, "QQQ", [TARGET], lookback_sessions=5)

    assert stored_metrics(db, "SPY", TARGET)[0]["pricing"] == {
        "risk_free_rate": 0.043,
        "dividend_yield": 0.004,
        "risk_free_rate_source": "provider",
        "dividend_yield_source": "provider",
    }
    assert stored_metrics(db, "QQQ", TARGET)[0]["pricing"] == {
        "risk_free_rate": 0.0,
        "dividend_yield": 0.0,
        "risk_free_rate_source": "default",
        "dividend_yield_source": "default",
    }


@pytest.mark.parametrize("strike", ["0", "NaN", "-5"])
def test_a_bad_stored_row_is_dropped_and_counted_for_its_own_ticker_day_only(db, database_url, watchlist, strike):
    ingest(database_url, SESSIONS)
    with db, db.cursor() as cursor:
        # Another system wrote a row our validator would never have let through.
        cursor.execute(
            "INSERT INTO options_chains (time, ticker_id, expiration_date, strike_price, option_type, gamma, "
            "open_interest, implied_volatility) SELECT cs.time, cs.ticker_id, %s, %s::numeric, 'C', 0.01, 500, 0.2 "
            "FROM chain_snapshots cs JOIN tickers t ON t.id = cs.ticker_id WHERE t.symbol = 'SPY' AND cs.time = %s",
            (TARGET + timedelta(days=7), strike, snapshot_time_for(TARGET)),
        )
    results = run_dealer_metrics(db, "SPY", SESSIONS[-3:], lookback_sessions=2)
    assert [result.status for result in results] == ["FULL", "FULL", "FULL"]
    dropped = [stored_metrics(db, "SPY", session)[0]["rows_dropped"] for session in SESSIONS[-3:]]
    assert dropped == [0, 0, 1]
    assert all(stored_metrics(db, "SPY", session)[0]["history_status"] == "COMPLETE" for session in SESSIONS[-3:])


def test_expiring_contracts_are_left_out_unless_asked_for_and_the_json_says_which(db, database_url, watchlist):
    ingest(database_url, SESSIONS)
    with db, db.cursor() as cursor:
        # Contracts of SPY's TARGET chain moved to expire on TARGET itself (a weekly expiring that day).
        cursor.execute(
            "UPDATE options_chains oc SET expiration_date = %s FROM tickers t WHERE t.id = oc.ticker_id "
            "AND t.symbol = 'SPY' AND oc.time = %s AND oc.expiration_date = %s",
            (TARGET, snapshot_time_for(TARGET), TARGET + timedelta(days=7)),
        )
    run_dealer_metrics(db, "SPY", [TARGET], lookback_sessions=0)
    default = stored_metrics(db, "SPY", TARGET)[0]
    run_dealer_metrics(db, "SPY", [TARGET], lookback_sessions=0, config=DealerConfig(include_expiring=True))
    kept = stored_metrics(db, "SPY", TARGET)[0]
    assert (default["include_expiring"], default["excluded"]["expiring"]) == (False, 40)
    assert (kept["include_expiring"], kept["excluded"]["expiring"]) == (True, 0)
    assert kept["contracts_eligible"] == default["contracts_eligible"] + 40
    assert kept["gex_gross"] > default["gex_gross"]


def test_a_stored_dealer_v1_row_is_replaced_and_never_used_as_a_prior(db, database_url, watchlist):
    ingest(database_url, SESSIONS)
    run_dealer_metrics(db, "SPY", SESSIONS[-2:-1], lookback_sessions=0)
    prior = daily_snapshot_time(SESSIONS[-2])
    with db, db.cursor() as cursor:  # as dealer-v1 left it, with a gex_net no v2 run would compute
        cursor.execute(
            "UPDATE daily_snapshots SET model_version = 'dealer-v1', dealer_metrics_json = "
            'dealer_metrics_json || \'{"model_version": "dealer-v1", "gex_net": 1.0}\'::jsonb WHERE time = %s',
            (prior,),
        )
    run_dealer_metrics(db, "SPY", SESSIONS[-2:], lookback_sessions=1)
    today, _, _ = stored_metrics(db, "SPY", TARGET)
    previous, version, _ = stored_metrics(db, "SPY", SESSIONS[-2])
    assert version == "dealer-v2" and previous["model_version"] == "dealer-v2" and previous["gex_net"] != 1.0
    assert today["history"]["gex_net_change_1d"] == pytest.approx(today["gex_net"] - previous["gex_net"], abs=0.011)
