"""The store against a real PostgreSQL: schema, write path, ledger, watchlist."""

from dataclasses import replace
from datetime import date
from decimal import Decimal

import psycopg2
import pytest

from markets.snapshot import snapshot_time_for
from store.chains import SymbolDayRows, ledger_entries, write_symbol_day
from store.connection import DatabaseTarget, DatabaseUnavailable, connect, redact_url
from store.migrations import migrate
from store.tickers import ensure_tickers
from store.watchlist import active_symbols, deactivate_symbols, list_entries, load_symbols
from tests.dbutil import count

SESSION = date(2025, 12, 9)
ROW = (date(2025, 12, 19), Decimal("100.5000"), "C", 1.0, 1.25, 1.1, 12, 500, 0.21, 0.55, 0.031, -0.04, 0.12)


def symbol_day(ticker_id: str, rows=(ROW,), session: date = SESSION) -> SymbolDayRows:
    return SymbolDayRows(ticker_id, session, snapshot_time_for(session), "test", 101.25, rows)


def test_migrations_are_idempotent(db):
    assert migrate(db) == []
    with db, db.cursor() as cursor:
        cursor.execute("SELECT version FROM schema_migrations")
        assert sorted(row[0] for row in cursor.fetchall()) == [
            "0001_core_tables",
            "0002_ledger_simulated",
            "0003_daily_snapshot_identity",
            "0004_estimated_close",
            "0005_pricing_inputs",
        ]


def test_snapshot_time_round_trips_bit_exact(db):
    ticker_id = ensure_tickers(db, ["SPY"])["SPY"]
    write_symbol_day(db, symbol_day(ticker_id))
    with db, db.cursor() as cursor:
        cursor.execute("SELECT time FROM options_chains")
        stored = cursor.fetchone()[0]
        cursor.execute("SELECT to_char(time AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') FROM options_chains")
        text = cursor.fetchone()[0]
    assert stored == snapshot_time_for(SESSION)
    assert stored.microsecond == 999999
    assert text == "2025-12-09 23:59:59.999999"


def test_symbol_day_writes_rows_ledger_and_close_together(db):
    ticker_id = ensure_tickers(db, ["SPY"])["SPY"]
    second = (ROW[0], Decimal("101.0000"), "P") + ROW[3:]
    outcome = write_symbol_day(db, symbol_day(ticker_id, rows=(ROW, second)))
    assert (outcome.rows_written, outcome.already_complete) == (2, False)
    assert count(db, "options_chains") == 2
    with db, db.cursor() as cursor:
        cursor.execute("SELECT provider, contracts, underlying_close FROM chain_snapshots")
        assert cursor.fetchone() == ("test", 2, Decimal("101.25"))
        cursor.execute("SELECT date, close FROM ohlcv")
        assert cursor.fetchone() == (SESSION, Decimal("101.25"))
        cursor.execute("SELECT strike_price, bid, open_interest, gamma FROM options_chains ORDER BY 1")
        assert cursor.fetchone() == (Decimal("100.5000"), Decimal("1.0"), 500, Decimal("0.031"))


def test_second_write_of_a_complete_symbol_day_writes_nothing(db):
    ticker_id = ensure_tickers(db, ["SPY"])["SPY"]
    write_symbol_day(db, symbol_day(ticker_id))
    again = write_symbol_day(db, symbol_day(ticker_id))
    assert (again.rows_written, again.already_complete) == (0, True)
    assert count(db, "options_chains") == 1
    assert count(db, "chain_snapshots") == 1


def test_rows_written_by_another_system_are_kept_and_the_rest_merged(db):
    ticker_id = ensure_tickers(db, ["SPY"])["SPY"]
    with db, db.cursor() as cursor:
        cursor.execute(
            "INSERT INTO options_chains (time, ticker_id, expiration_date, strike_price, option_type, bid) "
            "VALUES (%s, %s, %s, %s, 'C', 7.77)",
            (snapshot_time_for(SESSION), ticker_id, ROW[0], ROW[1]),
        )
    second = (ROW[0], Decimal("101.0000"), "P") + ROW[3:]
    outcome = write_symbol_day(db, symbol_day(ticker_id, rows=(ROW, second)))
    assert outcome.rows_written == 1
    with db, db.cursor() as cursor:
        cursor.execute("SELECT bid FROM options_chains WHERE option_type = 'C'")
        assert cursor.fetchone()[0] == Decimal("7.77")
    assert count(db, "chain_snapshots") == 1


def test_a_failed_write_leaves_no_half_symbol_day(db):
    ticker_id = ensure_tickers(db, ["SPY"])["SPY"]
    bad = (ROW[0], Decimal("101.0000"), "Z") + ROW[3:]  # violates the option_type check
    with pytest.raises(psycopg2.errors.CheckViolation):
        write_symbol_day(db, symbol_day(ticker_id, rows=(ROW, bad)))
    assert count(db, "options_chains") == 0
    assert count(db, "chain_snapshots") == 0
    assert count(db, "ohlcv") == 0


def test_ledger_answers_coverage_for_sessions_and_symbols_in_one_query(db):
    ids = ensure_tickers(db, ["SPY", "QQQ"])
    write_symbol_day(db, symbol_day(ids["SPY"]))
    write_symbol_day(db, symbol_day(ids["QQQ"], session=date(2025, 12, 10)))
    times = [snapshot_time_for(date(2025, 12, 9)), snapshot_time_for(date(2025, 12, 10))]
    entries = ledger_entries(db, times, ["SPY", "QQQ"])
    assert set(entries) == {(times[0], "SPY"), (times[1], "QQQ")}
    assert entries[(times[0], "SPY")].contracts == 1


def test_the_ledger_keeps_the_pricing_inputs_a_day_was_written_with(db):
    ids = ensure_tickers(db, ["SPY", "QQQ"])
    write_symbol_day(db, replace(symbol_day(ids["SPY"]), risk_free_rate=0.043, dividend_yield=0.013))
    write_symbol_day(db, symbol_day(ids["QQQ"]))
    time = snapshot_time_for(SESSION)
    entries = ledger_entries(db, [time], ["SPY", "QQQ"])
    assert (entries[(time, "SPY")].risk_free_rate, entries[(time, "SPY")].dividend_yield) == (0.043, 0.013)
    assert (entries[(time, "QQQ")].risk_free_rate, entries[(time, "QQQ")].dividend_yield) == (None, None)


def test_watchlist_load_deactivate_and_reactivate(db):
    assert load_symbols(db, ["SPY", "QQQ", "AAPL"], source="test") == 3
    assert load_symbols(db, ["SPY"], source="test") == 0
    assert deactivate_symbols(db, ["QQQ"]) == 1
    assert active_symbols(db) == ["AAPL", "SPY"]
    assert load_symbols(db, ["QQQ"], source="test") == 1
    assert active_symbols(db) == ["AAPL", "QQQ", "SPY"]
    assert {entry.symbol: entry.active for entry in list_entries(db)} == {"AAPL": True, "QQQ": True, "SPY": True}


def test_unreachable_database_is_one_line_without_password():
    target = DatabaseTarget("postgresql://user:s3cret@127.0.0.1:1/db", embedded=False)
    with pytest.raises(DatabaseUnavailable) as error:
        connect(target)
    message = str(error.value)
    assert "s3cret" not in message
    assert "127.0.0.1:1" in message
    assert "\n" not in message
    assert redact_url(target.url) == "postgresql://user:***@127.0.0.1:1/db"
