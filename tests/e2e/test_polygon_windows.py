"""Range-aware fetching against the loopback Massive fake: a backfill asks for each symbol's window
once, every answer is checked, and whatever a window does not cover is fetched day by day, so what
is stored never depends on how it was fetched."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import date

import psycopg2
import pytest

from markets.calendar import get_calendar
from providers.registry import unregister_provider
from scripts.ingest_options import main
from tests.dbutil import chain_digest, ledger, seed_watchlist
from tests.drills.support import CliProcess, cli_env, complete_symbol_days, half_written_symbol_days, wait_until
from tests.fakes.massive import ChainSpec, FakeMassive

SEED_COMMAND = [
    "--provider", "polygon", "--concurrency", "6", "--start-date", "2025-12-09", "--end-date", "2025-12-22",
]  # fmt: skip
SESSIONS = get_calendar("XNYS").sessions(date(2025, 12, 9), date(2025, 12, 22))
ANALYTICS, OPEN_INTEREST, AGGREGATES = "/options/v1/analytics", "/options/v1/open-interest", "/v2/aggs/ticker/"
SPECS = [
    ChainSpec("SPX", contracts=60, underlying_price=6800.0, index=True, extra_roots=("SPXW",)),
    ChainSpec("SPY", contracts=50, underlying_price=680.0),
    ChainSpec("AAPL", contracts=40, underlying_price=270.0, greekless_every=9),
    ChainSpec("AMD", contracts=30, underlying_price=120.0),
]


@pytest.fixture(autouse=True)
def _fresh_polygon_instance() -> Iterator[None]:
    unregister_provider("polygon")
    yield
    unregister_provider("polygon")


def serve(fake: FakeMassive, monkeypatch: pytest.MonkeyPatch, specs: list[ChainSpec] = SPECS) -> FakeMassive:
    for spec in specs:
        fake.add_chain(spec)
    monkeypatch.setenv("POLYGON_BASE_URL", fake.base_url)
    monkeypatch.setenv("POLYGON_API_KEY", fake.api_key)
    monkeypatch.setenv("KAPMAN_MAX_REQUESTS_PER_MINUTE", "60000")
    return fake


def stored(url: str) -> tuple[str, list[tuple]]:
    connection = psycopg2.connect(url)
    try:
        return chain_digest(connection), [row[:2] + row[3:] for row in ledger(connection)]
    finally:
        connection.close()


def test_the_seed_command_by_window_writes_what_day_by_day_writes_row_for_row(make_database, monkeypatch, capsys):
    by_window, by_day = make_database(), make_database()
    for url in (by_window, by_day):
        connection = psycopg2.connect(url)
        seed_watchlist(connection, [spec.symbol for spec in SPECS])
        connection.close()
    with FakeMassive() as fake:
        serve(fake, monkeypatch)
        monkeypatch.setenv("DATABASE_URL", by_window)
        assert main(SEED_COMMAND) == 0
        window_requests = list(fake.requests)
        fake.clear_requests()
        unregister_provider("polygon")
        monkeypatch.setenv("DATABASE_URL", by_day)
        assert main([*SEED_COMMAND, "--day-by-day"]) == 0
        day_requests = list(fake.requests)
    assert capsys.readouterr().out.count("days_attempted=10 succeeded=10") == 2
    assert stored(by_window) == stored(by_day)  # chains, ledger, closes: row for row
    # One pass per symbol and endpoint (per root for open interest: SPX lists SPX and SPXW).
    assert sorted(request.param("underlying_ticker") for request in window_requests if request.path == ANALYTICS) == [
        "AAPL", "AMD", "SPX", "SPY",
    ]  # fmt: skip
    assert len([request for request in window_requests if request.path == OPEN_INTEREST]) == 5
    assert len([request for request in window_requests if request.path.startswith(AGGREGATES)]) == 4
    assert len(window_requests) == 13 and len(day_requests) == 13 * len(SESSIONS)
    assert len(window_requests) <= 0.15 * len(day_requests)


def test_a_server_that_ignores_the_range_is_asked_day_by_day_and_no_day_is_mislabelled(
    database_url, db, monkeypatch, caplog
):
    caplog.set_level(logging.INFO, logger="kapman")
    seed_watchlist(db, ["AMD", "SPY"])
    with FakeMassive(range_filter="ignored") as fake:
        serve(fake, monkeypatch, SPECS[1:2] + SPECS[3:])
        assert main(SEED_COMMAND) == 0
        values = {day: fake.history_values("AMD", fake.contracts("AMD")[0], day) for day in SESSIONS}
        first = fake.contracts("AMD")[0]
    connection = psycopg2.connect(database_url)
    with connection, connection.cursor() as cursor:
        cursor.execute(
            "SELECT (c.time AT TIME ZONE 'UTC')::date, c.open_interest, c.gamma::float8 FROM options_chains c "
            "JOIN tickers t ON t.id = c.ticker_id WHERE t.symbol = 'AMD' AND c.expiration_date = %s "
            "AND c.strike_price = %s AND c.option_type = %s ORDER BY 1",
            (first.expiration_date, first.strike_price, first.option_type),
        )
        rows = cursor.fetchall()
    connection.close()
    assert rows == [(day, values[day]["open_interest"], values[day]["gamma"]) for day in SESSIONS]
    turned_off = [record.getMessage() for record in caplog.records if "window fetching off" in record.getMessage()]
    assert sorted(message.split()[4].rstrip(",") for message in turned_off) == ["AMD", "SPY"]  # once per symbol


def test_a_session_missing_from_the_window_is_fetched_alone_and_every_day_succeeds(
    database_url, db, monkeypatch, capsys
):
    seed_watchlist(db, ["AMD"])
    missing = date(2025, 12, 16)
    with FakeMassive(missing_from_ranges=(missing,)) as fake:
        serve(fake, monkeypatch, SPECS[3:])
        assert main(SEED_COMMAND) == 0
        single_day = {request.param("date") for request in fake.requests if request.param("date")}
    assert "days_attempted=10 succeeded=10" in capsys.readouterr().out
    assert single_day == {missing.isoformat()}  # only the uncovered session was asked day by day
    assert len(complete_symbol_days(db)) == len(SESSIONS)


def test_a_run_killed_mid_window_resumes_exactly_the_missing_symbol_days(make_database, monkeypatch):
    symbols = ["AMD", "IBM", "KO"]
    uninterrupted, killed = make_database(), make_database()
    for url in (uninterrupted, killed):
        connection = psycopg2.connect(url)
        seed_watchlist(connection, symbols)
        connection.close()
    command = [*SEED_COMMAND[:2], "--concurrency", "1", *SEED_COMMAND[4:]]
    with FakeMassive() as fake:
        serve(fake, monkeypatch, [ChainSpec(symbol, contracts=20) for symbol in symbols])
        monkeypatch.setenv("DATABASE_URL", uninterrupted)
        assert main(command) == 0
        unregister_provider("polygon")
        # KO's window hangs on its close: AMD's and IBM's first days are written, then the kill.
        fake.clear_requests()
        fake.add_fault(f"{AGGREGATES}KO/", delay=30.0, times=1)
        env = cli_env(killed, POLYGON_BASE_URL=fake.base_url, POLYGON_API_KEY=fake.api_key)
        env["KAPMAN_MAX_REQUESTS_PER_MINUTE"] = "60000"
        process = CliProcess(command, env)
        connection = psycopg2.connect(killed)
        try:
            wait_until(
                lambda: any(request.path.startswith(f"{AGGREGATES}KO/") for request in fake.requests),
                what="KO's window to be in flight",
                process=process,
            )
            written_before_kill = complete_symbol_days(connection)
            process.kill()
        finally:
            process.close()
        assert written_before_kill == {"AMD@2025-12-09", "IBM@2025-12-09"}
        assert half_written_symbol_days(connection) == []
        fake.clear_faults()
        fake.clear_requests()
        monkeypatch.setenv("DATABASE_URL", killed)
        assert main(command) == 0
        connection.close()
    assert stored(killed) == stored(uninterrupted)


def test_a_dry_run_prints_what_the_run_will_cost_and_asks_nothing(database_url, db, monkeypatch, caplog):
    caplog.set_level(logging.INFO, logger="kapman")
    seed_watchlist(db, ["AMD", "SPY"])
    with FakeMassive() as fake:
        serve(fake, monkeypatch, SPECS[1:2] + SPECS[3:])
        assert main([*SEED_COMMAND, "--dry-run"]) == 0
        assert fake.requests == []
    [line] = [record.getMessage() for record in caplog.records if "requests_day_by_day" in record.getMessage()]
    assert "provider=polygon requests_day_by_day=60 requests_by_window=6" in line
