"""Rows a dishonest or broken Massive answer carries, through PolygonProvider and the validator:
a contract repeated with different values, greeks outside their physical range, and history rows
dated (in any date form) another session. None of them is stored as if it were true."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any

import pytest

from providers.base import MalformedResponse
from providers.http import HttpSettings
from providers.polygon import PolygonProvider
from tasks.chain_rows import validate_chain
from tests.drills.faulty_massive import FaultyMassive
from tests.fakes.massive import ChainSpec

NOW = datetime(2025, 12, 23, 22, 0, tzinfo=UTC)
CURRENT = date(2025, 12, 23)
PAST = date(2025, 12, 15)
KEY = "hostile-rows-key-0c5e7d2a"
SETTINGS = HttpSettings(requests_per_minute=60_000, burst=100, max_attempts=2, backoff_base=0.01)
# 2025-12-15 15:45 New York (20:45 UTC), the analytics' snapshot time, and the day before.
SESSION_1545_MS = 1765831500000
DAY_BEFORE_1545_MS = SESSION_1545_MS - 86_400_000


@pytest.fixture
def fake() -> Iterator[FaultyMassive]:
    with FaultyMassive(api_key=KEY) as server:
        server.add_chain(ChainSpec("AAPL", contracts=20))
        yield server


@pytest.fixture
def provider(fake: FaultyMassive) -> Iterator[PolygonProvider]:
    built = PolygonProvider(KEY, base_url=fake.base_url, clock=lambda: NOW, http_settings=SETTINGS)
    yield built
    built.close()


def snapshot_row(ticker: str, strike: float, **values: Any) -> dict[str, Any]:
    details = {"contract_type": "call", "expiration_date": "2026-01-16", "strike_price": strike, "ticker": ticker}
    return {"details": details, "underlying_asset": {"ticker": "AAPL", "price": 100.0}, **values}


def test_a_snapshot_contract_repeated_with_different_values_is_dropped_in_every_copy(fake, provider):
    fake.hostile_rows["AAPL"] = lambda spec: [
        snapshot_row("O:AAPL260116C00500000", 500.0, last_quote={"bid": 1.0, "ask": 1.2}, open_interest=10),
        snapshot_row("O:AAPL260116C00500000", 500.0, last_quote={"bid": 7.0, "ask": 7.2}, open_interest=10),
        snapshot_row("O:AAPL260116C00505000", 505.0, last_quote={"bid": 1.0, "ask": 1.2}, open_interest=10),
        snapshot_row("O:AAPL260116C00505000", 505.0, last_quote={"bid": 1.0, "ask": 1.2}, open_interest=10),
    ]

    chain = provider.fetch_chain("AAPL", CURRENT)
    validated = validate_chain(chain)

    strikes = {row[1] for row in validated.rows}
    assert 505 in strikes and 500 not in strikes
    assert len(validated.rows) == 21
    assert validated.dropped == {"conflicting_duplicate": 2}
    assert (chain.notes["duplicate_rows"], chain.notes["conflicting_rows"]) == ("1", "1")


def test_greeks_outside_their_physical_range_are_stored_as_null_and_counted(fake, provider):
    fake.hostile_rows["AAPL"] = lambda spec: [
        snapshot_row(
            "O:AAPL260116C00500000",
            500.0,
            greeks={"delta": 3.2, "gamma": -0.4, "theta": -0.05, "vega": 1e9},
            implied_volatility=250.0,
            last_quote={"bid": -1.0, "ask": 1.2},
            open_interest=10,
        )
    ]

    validated = validate_chain(provider.fetch_chain("AAPL", CURRENT))

    [row] = [row for row in validated.rows if row[1] == 500]
    # bid, ask, last, volume, open_interest, iv, delta, gamma, theta, vega
    assert row[3:] == (None, 1.2, None, None, 10, None, None, None, -0.05, None)
    assert validated.nulled == {
        "bid_out_of_range": 1,
        "implied_volatility_out_of_range": 1,
        "delta_out_of_range": 1,
        "gamma_out_of_range": 1,
        "vega_out_of_range": 1,
    }
    assert validated.dropped == {}


def history_row(ticker: str, when: Any, **values: Any) -> dict[str, Any]:
    return {"ticker": ticker, "underlying_ticker": "AAPL", "date": when, "root": "AAPL", **values}


# Rows for contracts the fake does not list (strikes 500+), each dated in one form.
OTHER_SESSION_FORMS = {
    "O:AAPL260116C00501000": "2025-12-12",  # ISO date
    "O:AAPL260116C00502000": "2025-12-14T21:00:00-05:00",  # ISO datetime, New York
    "O:AAPL260116C00503000": DAY_BEFORE_1545_MS,  # epoch milliseconds
    "O:AAPL260116C00504000": DAY_BEFORE_1545_MS * 1_000_000,  # epoch nanoseconds
}
SESSION_FORMS = {
    "O:AAPL260116C00511000": "2025-12-15",
    "O:AAPL260116C00512000": "2025-12-15T20:45:00Z",
    "O:AAPL260116C00513000": SESSION_1545_MS,
    "O:AAPL260116C00514000": str(SESSION_1545_MS * 1000),  # epoch microseconds, as digits
    "O:AAPL260116C00515000": SESSION_1545_MS * 1_000_000,
    "O:AAPL260116C00516000": 1765756800,  # 2025-12-15T00:00:00Z: a date, in epoch seconds
    "O:AAPL260116C00517000": "2025-12-16T01:00:00Z",  # 20:00 New York on the 15th: the session, not the 16th
}
UNREADABLE = {"O:AAPL260116C00521000": "yesterday", "O:AAPL260116C00522000": {"day": 15}}


def test_history_rows_dated_another_session_in_any_form_are_dropped_and_counted(fake, provider):
    dated = {**OTHER_SESSION_FORMS, **SESSION_FORMS, **UNREADABLE}
    greeks = {"implied_volatility": 0.3, "delta": 0.5, "gamma": 0.01, "theta": -0.02, "vega": 0.1}
    fake.hostile_history_rows["analytics"] = lambda _, session: [
        history_row(ticker, when, **greeks) for ticker, when in dated.items()
    ]
    fake.hostile_history_rows["open-interest"] = lambda _, session: [
        history_row(ticker, when, open_interest=77) for ticker, when in dated.items()
    ]

    chain = provider.fetch_chain("AAPL", PAST)

    strikes = {int(quote.strike_price) for quote in chain.quotes if quote.strike_price >= 500}
    assert strikes == {511, 512, 513, 514, 515, 516, 517}
    assert all(quote.open_interest == 77 for quote in chain.quotes if quote.strike_price >= 500)
    # 4 other-session and 2 unreadable rows, on each of the two endpoints.
    assert (chain.notes["dropped_other_session"], chain.notes["dropped_unreadable_date"]) == ("8", "4")
    assert chain.dropped_rows == 12
    assert len(chain.quotes) == 20 + 7


def test_a_history_page_with_no_row_of_the_session_in_any_form_is_refused_not_paged_through(fake, provider):
    endpoint = "/options/v1/analytics"
    rows = [history_row("O:AAPL260116C00501000", DAY_BEFORE_1545_MS, delta=0.5)]
    fake.add_fault(endpoint, status=200, body={"status": "OK", "results": rows, "next_url": f"{endpoint}?cursor=x"})

    with pytest.raises(MalformedResponse, match="dated 2025-12-14 when asked for date=2025-12-15"):
        provider.fetch_chain("AAPL", PAST)

    assert len(fake.requests_to(endpoint)) == 1


def test_history_rows_that_contradict_each_other_drop_their_contract(fake, provider):
    greeks = {"implied_volatility": 0.3, "delta": 0.5, "gamma": 0.01, "theta": -0.02, "vega": 0.1}
    fake.hostile_history_rows["analytics"] = lambda _, session: [
        history_row("O:AAPL260116C00531000", "2025-12-15", **greeks),
        history_row("O:AAPL260116C00531000", "2025-12-15", **{**greeks, "delta": 0.9}),
        history_row("O:AAPL260116C00532000", "2025-12-15", **greeks),
        history_row("O:AAPL260116C00532000", "2025-12-15", **greeks),
        history_row("O:AAPL260116C00533000", "2025-12-15", **greeks),
    ]
    fake.hostile_history_rows["open-interest"] = lambda _, session: [
        history_row("O:AAPL260116C00532000", "2025-12-15", open_interest=5),
        history_row("O:AAPL260116C00533000", "2025-12-15", open_interest=5),
        history_row("O:AAPL260116C00533000", "2025-12-15", open_interest=6),
    ]

    chain = provider.fetch_chain("AAPL", PAST)
    validated = validate_chain(chain)

    strikes = {int(row[1]) for row in validated.rows if row[1] >= 500}
    assert strikes == {532}
    assert validated.dropped == {"conflicting_duplicate": 4}
    assert chain.notes["duplicate_rows"] == "1"
