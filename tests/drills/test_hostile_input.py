"""Hostile input from the two places it comes from: the person at the keyboard (symbols) and the
provider (rows no honest source would send, served by the loopback Massive fake over HTTP).

Each is refused with one clear line or counted and dropped; nothing malformed reaches the database.
Unit tests pin the pieces (tests/unit/test_symbols.py, test_chain_rows.py); here the whole path runs.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any

import pytest

from flows.ingest import ingest_options
from providers.http import HttpSettings
from scripts.ingest_options import main
from store.__main__ import main as store_main
from tests.dbutil import count, seed_watchlist
from tests.drills.faulty_massive import FaultyMassive
from tests.drills.support import half_written_symbol_days, query, registered_polygon
from tests.fakes.massive import ChainSpec

NOW = datetime(2025, 12, 23, 22, 0, tzinfo=UTC)
CURRENT = date(2025, 12, 23)
KEY = "drill-hostile-key-51c9d0"
HOSTILE_SYMBOLS = [
    "SPY;DROP TABLE tickers",
    "O'NEIL",
    'SP"Y',
    "ÄPPL",
    "🚀",
    "A" * 31,
    "$(reboot)",
    "SPY%00",
]


def tables(db) -> dict[str, int]:  # noqa: ANN001
    return {table: count(db, table) for table in ("tickers", "watchlists", "options_chains", "chain_snapshots")}


@pytest.mark.parametrize("symbol", HOSTILE_SYMBOLS)
def test_a_hostile_symbol_is_one_error_line_exit_2_and_writes_nothing(symbol, db, capsys):
    seed_watchlist(db, ["SPY"])
    before = tables(db)

    with pytest.raises(SystemExit) as ingest:
        main(["--as-of", "2025-12-19", "--provider", "synthetic", "--symbols", f"SPY,{symbol}"])
    ingest_exit = ingest.value.code
    ingest_err = capsys.readouterr().err.strip().splitlines()
    try:
        store_exit = store_main(["watchlist", "add", "QQQ", symbol])
    except SystemExit as refused:  # argparse's refusal
        store_exit = refused.code
    store_err = capsys.readouterr().err.strip().splitlines()

    assert (ingest_exit, store_exit) == (2, 2)
    # argparse's usage (possibly wrapped), then exactly one line saying what is wrong with which input.
    errors = [line for line in ingest_err if ": error: " in line]
    assert errors == [ingest_err[-1]] and "invalid symbol" in errors[0]
    assert len(store_err) == 1 and "symbol" in store_err[0]
    assert tables(db) == before
    assert query(db, "SELECT symbol FROM watchlists") == [("SPY",)]


def test_lower_case_and_spaced_symbols_are_the_same_symbol(db):
    assert store_main(["watchlist", "add", " spy ", "brk.b", "SPY"]) == 0
    assert query(db, "SELECT symbol FROM watchlists ORDER BY symbol") == [("BRK.B",), ("SPY",)]


def test_symbols_off_the_watchlist_are_named_in_a_warning_and_not_ingested(db, caplog):
    seed_watchlist(db, ["SPY"])

    assert main(["--as-of", "2025-12-19", "--provider", "synthetic", "--symbols", "spy nvda"]) == 0

    assert "not on the active watchlist, ignored: NVDA" in caplog.text
    assert query(db, "SELECT DISTINCT t.symbol FROM chain_snapshots c JOIN tickers t ON t.id = c.ticker_id") == [
        ("SPY",)
    ]


def hostile_rows(spec: ChainSpec) -> list[dict[str, Any]]:
    """Rows appended to IBM's snapshot: one with non-finite greeks (kept, greeks NULL), then five
    that must be dropped: negative OI, a 6-decimal strike, an unparseable OCC ticker and no other
    identity, an expiration before the session, a NaN strike (and no OCC ticker to take one from)."""
    underlying = {"ticker": spec.symbol, "price": spec.underlying_price}

    def row(ticker: str, expiration: str, strike: float, **values: Any) -> dict[str, Any]:
        details = {
            "contract_type": "call",
            "exercise_style": "american",
            "expiration_date": expiration,
            "shares_per_contract": 100,
            "strike_price": strike,
            "ticker": ticker,
        }
        return {"details": details, "underlying_asset": underlying, **values}

    return [
        row(
            "O:IBM260116C00777000",
            "2026-01-16",
            777.0,
            greeks={"delta": math.nan, "gamma": math.inf, "theta": -math.inf, "vega": 0.25},
            implied_volatility=math.nan,
            open_interest=300,
        ),
        row("O:IBM260116C00778000", "2026-01-16", 778.0, open_interest=-5),
        row("O:IBM260116C00779123", "2026-01-16", 779.123456, open_interest=10),
        {"details": {"ticker": "O:NOT;A'CONTRACT"}, "underlying_asset": underlying, "open_interest": 10},
        row("O:IBM251201C00780000", "2025-12-01", 780.0, open_interest=10),
        row("O:IBM-NO-STRIKE", "2026-01-16", math.nan, open_interest=10),
    ]


@pytest.fixture
def fake() -> Iterator[FaultyMassive]:
    with FaultyMassive(api_key=KEY) as server:
        server.add_chain(ChainSpec("IBM", contracts=40))
        server.hostile_rows["IBM"] = hostile_rows
        yield server


@pytest.fixture
def polygon(fake: FaultyMassive) -> Iterator[str]:
    settings = HttpSettings(requests_per_minute=60_000, burst=100, max_attempts=2, backoff_base=0.01)
    with registered_polygon("polygon-hostile", KEY, fake, now=NOW, settings=settings) as name:
        yield name


def test_hostile_provider_rows_are_counted_and_dropped_and_nothing_malformed_is_stored(db, fake, polygon):
    seed_watchlist(db, ["IBM"])

    summary = ingest_options(as_of=CURRENT, provider=polygon, day_retries=0)

    [day] = summary.days
    assert (day.status, day.rows_written, day.rows_dropped) == ("succeeded", 41, 5)
    assert half_written_symbol_days(db) == []
    [(contracts,)] = query(db, "SELECT contracts FROM chain_snapshots")
    assert contracts == count(db, "options_chains") == 41
    # Nothing malformed is stored: every strike exact to 4 decimals, no negative count, no contract
    # expired before its session, no NaN or infinity anywhere (numeric would accept them).
    assert query(
        db,
        "SELECT count(*) FROM options_chains WHERE strike_price <> round(strike_price, 4) "
        "OR open_interest < 0 OR volume < 0 OR expiration_date < time::date "
        "OR 'NaN'::numeric IN (bid, ask, last, implied_volatility, delta, gamma, theta, vega) "
        "OR strike_price IN (778, 779.1235, 780, 781)",
    ) == [(0,)]
    # The row with non-finite greeks is kept, those values NULL, its finite values intact.
    assert query(
        db,
        "SELECT open_interest, implied_volatility, delta, gamma, theta, vega FROM options_chains "
        "WHERE strike_price = 777",
    ) == [(300, None, None, None, None, 0.25)]
