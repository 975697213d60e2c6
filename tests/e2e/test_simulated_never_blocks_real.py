"""Demo data never stands in for real data: a real source's run replaces simulated symbol-days,
atomically, and a simulated run never overwrites real ones."""

from __future__ import annotations

from datetime import date

from flows.backfill import backfill_options
from tests.dbutil import count, seed_watchlist
from tests.doubles import RealTinyProvider, RecordingProvider, registered

START, END = date(2025, 12, 9), date(2025, 12, 12)
SYMBOLS = ["AAPL", "SPY"]


def ledger_by_provider(db) -> dict[str, int]:  # noqa: ANN001
    with db, db.cursor() as cursor:
        cursor.execute("SELECT provider, count(*) FROM chain_snapshots GROUP BY 1")
        return dict(cursor.fetchall())


def test_a_real_source_replaces_simulated_days_and_a_simulated_one_never_overwrites_real(db):
    seed_watchlist(db, SYMBOLS)
    assert backfill_options(start_date=START, end_date=END, provider="synthetic").days_succeeded == 4
    simulated_rows = count(db, "options_chains")

    real = RecordingProvider(RealTinyProvider("real-tiny", close_offset=1.0), name="real-tiny")
    with registered(real):
        summary = backfill_options(start_date=START, end_date=END, provider="real-tiny")
    assert (summary.days_succeeded, summary.days_skipped) == (4, 0)  # not "complete": replaced
    assert len(real.calls) == 4 * len(SYMBOLS)
    assert sum(day.symbols_replaced for day in summary.days) == 4 * len(SYMBOLS)
    assert ledger_by_provider(db) == {"real-tiny": 4 * len(SYMBOLS)}
    # Only the real chains are left (the tiny chain has 80 contracts), and the real closes.
    assert count(db, "options_chains") == 4 * len(SYMBOLS) * 80 != simulated_rows
    with db, db.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM ohlcv o JOIN chain_snapshots cs ON cs.ticker_id = o.ticker_id "
            "AND (cs.time AT TIME ZONE 'UTC')::date = o.date WHERE o.close = cs.underlying_close"
        )
        assert cursor.fetchone()[0] == 4 * len(SYMBOLS)

    again = backfill_options(start_date=START, end_date=END, provider="synthetic")
    assert again.days_skipped == 4  # simulated data never replaces real data
    assert ledger_by_provider(db) == {"real-tiny": 4 * len(SYMBOLS)}
