"""Backfill, then dealer metrics across the window: the reason backfill exists."""

from datetime import date

import pytest
from prefect.client.orchestration import get_client

from flows.backfill import backfill_options
from flows.dealer_metrics import dealer_metrics
from tests.dbutil import seed_watchlist

SYMBOLS = ["AAPL", "QQQ", "SPY"]


def metrics_json(db) -> dict:
    with db, db.cursor() as cursor:
        cursor.execute(
            "SELECT t.symbol, (d.time AT TIME ZONE 'America/New_York')::date, d.dealer_metrics_json "
            "FROM daily_snapshots d "
            "JOIN tickers t ON t.id = d.ticker_id"
        )
        return {(symbol, session): payload for symbol, session, payload in cursor.fetchall()}


@pytest.fixture
def backfilled(db):
    seed_watchlist(db, SYMBOLS)
    summary = backfill_options(start_date=date(2025, 12, 9), end_date=date(2025, 12, 22), provider="synthetic")
    assert summary.days_succeeded == 10
    return db


def test_metrics_across_the_backfilled_window_have_complete_history(backfilled):
    summary = dealer_metrics(start_date=date(2025, 12, 16), end_date=date(2025, 12, 22), lookback_sessions=5)
    assert summary.ticker_days == 5 * len(SYMBOLS)
    assert summary.missing_history == 0 and summary.errors == 0 and summary.invalid == 0
    stored = metrics_json(backfilled)
    assert len(stored) == 5 * len(SYMBOLS)
    for payload in stored.values():
        assert payload["status"] in ("FULL", "LIMITED")
        assert payload["history_status"] == "COMPLETE"
        assert payload["history"]["gex_net_change_1d"] is not None
        assert payload["simulated"] is True and payload["provider"] == "synthetic"


def test_first_day_of_the_window_names_its_missing_prior_sessions(backfilled):
    summary = dealer_metrics(as_of=date(2025, 12, 9), lookback_sessions=5)
    assert summary.missing_history == len(SYMBOLS)
    expected = ["2025-12-02", "2025-12-03", "2025-12-04", "2025-12-05", "2025-12-08"]
    stored = metrics_json(backfilled)
    assert len(stored) == len(SYMBOLS)
    for payload in stored.values():
        assert payload["history_status"] == "MISSING_HISTORY"
        assert payload["missing_sessions"] == expected
        assert payload["gex_net"] is not None


def test_rerunning_metrics_writes_the_same_json(backfilled):
    dealer_metrics(start_date=date(2025, 12, 16), end_date=date(2025, 12, 22))
    first = metrics_json(backfilled)
    assert len(first) == 5 * len(SYMBOLS)
    dealer_metrics(start_date=date(2025, 12, 16), end_date=date(2025, 12, 22))
    assert metrics_json(backfilled) == first


def test_a_dealer_run_is_named_by_the_sessions_it_computes(backfilled):
    state = dealer_metrics(start_date=date(2025, 12, 16), end_date=date(2025, 12, 22), return_state=True)
    single = dealer_metrics(as_of=date(2025, 12, 22), return_state=True)
    with get_client(sync_client=True) as client:
        names = [client.read_flow_run(run.state_details.flow_run_id).name for run in (state, single)]
    assert names == ["dealer-2025-12-16-2025-12-22", "dealer-2025-12-22"]
