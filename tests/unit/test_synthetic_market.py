"""The simulated market's statistics fall in the ranges its module docstring states.

Each test names the range it checks; `providers/_synthetic_market.py` states them all in one place.
Chains come straight from `simulate_chain` (the arrays the provider turns into quotes), on the
default seed, over NYSE sessions from the exchange calendar.
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from functools import cache
from pathlib import Path

import numpy as np
import pytest

from dealer.black_scholes import bs_gamma
from markets.calendar import exchange_holidays, get_calendar
from providers._synthetic_market import ChainShape, SimulatedChain, simulate_chain, symbol_profile
from providers.synthetic import DEFAULT_SEED, SyntheticProvider

REPO_ROOT = Path(__file__).resolve().parents[2]
SESSION = date(2025, 12, 9)
INDEX_NAMES = ("SPY", "QQQ", "IWM", "DIA", "SPX", "NDX")
SINGLE_NAMES = ("AAPL", "MSFT", "NVDA", "TSLA", "AMZN", "ZZZ1", "BRK.B", "X", "1234", "TLT")
# Thanksgiving (2025-11-27) and Christmas (2025-12-25) fall inside: holidays are not sessions.
WINDOW = tuple(get_calendar("XNYS").sessions(date(2025, 11, 17), date(2025, 12, 31)))
AFTER_THE_FACT = datetime(2026, 6, 1, tzinfo=UTC)


@cache
def chain(symbol: str, session: date) -> SimulatedChain:
    return simulate_chain(symbol, session, DEFAULT_SEED, ChainShape())


def contracts(snapshot: SimulatedChain) -> dict[tuple[int, int, bool], int]:
    """Row number by contract key."""
    keys = zip(
        snapshot.expiration_ordinals.tolist(), snapshot.strike_cents.tolist(), snapshot.is_call.tolist(), strict=True
    )
    return {key: row for row, key in enumerate(keys)}


def expirations(snapshot: SimulatedChain) -> list[date]:
    return [date.fromordinal(ordinal) for ordinal in np.unique(snapshot.expiration_ordinals).tolist()]


def test_chain_sizes_by_name_type():
    for session in (SESSION, date(2025, 12, 19), date(2026, 3, 2)):
        sizes = {symbol: chain(symbol, session).strike_cents.size for symbol in INDEX_NAMES + SINGLE_NAMES}
        for symbol in INDEX_NAMES:
            assert 2500 <= sizes[symbol] <= 11000, (symbol, session, sizes[symbol])
        for symbol in SINGLE_NAMES:
            assert 250 <= sizes[symbol] <= 4500, (symbol, session, sizes[symbol])
        assert sizes["SPY"] >= 4000, (session, sizes["SPY"])
        for symbol in ("AAPL", "MSFT", "NVDA"):
            assert 1000 <= sizes[symbol] <= 3500, (symbol, session, sizes[symbol])


def test_strike_spacing_near_the_money_follows_the_price_level():
    expected = {
        "SPY": 100,
        "QQQ": 100,
        "IWM": 100,
        "SPX": 1000,
        "AAPL": 250,
        "MSFT": 250,
        "NVDA": 250,
        "XYZ": 100,
        "PLTR": 50,
    }
    for symbol, spacing in expected.items():
        snapshot = chain(symbol, SESSION)
        nearest = snapshot.expiration_ordinals == snapshot.expiration_ordinals.min()
        strikes = np.unique(snapshot.strike_cents[nearest])
        near = np.sort(strikes[np.argsort(np.abs(strikes - snapshot.underlying_close * 100))[:5]])
        assert set(np.diff(near).tolist()) == {spacing}, (symbol, snapshot.underlying_close)


def test_index_names_expire_every_session_and_single_names_once_a_week():
    holiday_free = [date(2025, 12, 15) + timedelta(days=offset) for offset in range(5)]
    christmas_week = [date(2025, 12, 22) + timedelta(days=offset) for offset in range(5)]
    for symbol in INDEX_NAMES:
        listed = set(expirations(chain(symbol, date(2025, 12, 12))))
        assert listed >= set(holiday_free), symbol
        assert listed & set(christmas_week) == set(christmas_week) - {date(2025, 12, 25)}, symbol
    for symbol in SINGLE_NAMES:
        listed = set(expirations(chain(symbol, date(2025, 12, 12))))
        assert listed & set(holiday_free) == {date(2025, 12, 19)}, symbol
        assert listed & set(christmas_week) == {date(2025, 12, 26)}, symbol


def test_expirations_are_sessions_and_a_holiday_moves_them_to_the_session_before():
    closed = exchange_holidays()
    for symbol in ("SPY", "AAPL", "ZZZ1"):
        for session in (SESSION, date(2026, 3, 2)):
            for expiry in expirations(chain(symbol, session)):
                assert expiry.weekday() < 5 and expiry not in closed, (symbol, expiry)
    # Good Friday 2026-04-03: that week's single-name weekly expires on Thursday.
    assert date(2026, 4, 2) in expirations(chain("AAPL", date(2026, 3, 2)))
    # Juneteenth 2026-06-19 is June's third Friday: the monthly expires on Thursday 2026-06-18.
    monthly = [expiry for expiry in expirations(chain("AAPL", date(2026, 3, 2))) if expiry.month == 6]
    assert monthly == [date(2026, 6, 18)]


def test_the_farthest_expiry_is_two_to_three_years_out():
    for symbol in INDEX_NAMES + SINGLE_NAMES:
        for session in (SESSION, date(2026, 8, 3)):
            farthest = max(expirations(chain(symbol, session)))
            assert 730 <= (farthest - session).days <= 1096, (symbol, session, farthest)


def test_open_interest_changes_only_through_volume_and_contracts_stay_listed_until_expiry():
    for symbol in ("SPY", "AAPL", "ZZZ1"):
        for before, today in zip(WINDOW, WINDOW[1:], strict=False):
            old, new = chain(symbol, before), chain(symbol, today)
            old_rows, new_rows = contracts(old), contracts(new)
            for key, row in new_rows.items():
                change = new.open_interest[row] - (old.open_interest[old_rows[key]] if key in old_rows else 0)
                assert abs(change) <= new.volume[row], (symbol, today, key)
            for key in old_rows:
                expired = date.fromordinal(key[0]) < today
                assert (key not in new_rows) == expired, (symbol, today, key)


def test_open_interest_builds_into_expiry_and_is_gone_after():
    for symbol in ("SPY", "AAPL"):
        sessions = get_calendar("XNYS").sessions(date(2025, 10, 20), date(2025, 12, 31))
        by_session = {session: chain(symbol, session) for session in sessions}
        for position, session in enumerate(sessions[20:-1], start=20):
            expiring = session.toordinal()
            totals = []
            for earlier in (sessions[position - 20], session):
                snapshot = by_session[earlier]
                totals.append(int(snapshot.open_interest[snapshot.expiration_ordinals == expiring].sum()))
            if totals[1] == 0:
                continue  # no expiry that session (a single name expires on Fridays)
            assert totals[1] >= 1.4 * totals[0], (symbol, session, totals)
            assert not (by_session[sessions[position + 1]].expiration_ordinals == expiring).any(), (symbol, session)


def test_put_call_open_interest_ratios_by_name_type():
    for session in (SESSION, date(2026, 3, 2)):
        for symbol in INDEX_NAMES + SINGLE_NAMES:
            snapshot = chain(symbol, session)
            ratio = snapshot.open_interest[~snapshot.is_call].sum() / snapshot.open_interest[snapshot.is_call].sum()
            bounds = (1.25, 2.2) if symbol in INDEX_NAMES else (0.5, 1.0)
            assert bounds[0] <= ratio <= bounds[1], (symbol, session, round(float(ratio), 3))


def skew_points(snapshot: SimulatedChain, session: date) -> tuple[float, float, float]:
    """IV one standard deviation below the forward, at it, and one above, 30-45 days out."""
    dte = np.array([ordinal - session.toordinal() for ordinal in snapshot.expiration_ordinals.tolist()])
    expiry = int(snapshot.expiration_ordinals[(dte >= 30) & (dte <= 45)].min())
    rows = snapshot.expiration_ordinals == expiry
    strikes, iv = snapshot.strike_cents[rows] / 100, snapshot.implied_volatility[rows]
    years = (expiry - session.toordinal()) / 365
    forward = snapshot.underlying_close * math.exp((snapshot.risk_free_rate - snapshot.dividend_yield) * years)
    atm = float(iv[np.argmin(np.abs(strikes - forward))])
    points = []
    for deviations in (-1.0, 0.0, 1.0):
        target = forward * math.exp(deviations * atm * math.sqrt(years))
        points.append(float(iv[np.argmin(np.abs(strikes - target))]))
    return points[0], points[1], points[2]


def test_index_names_have_a_steep_put_skew_and_single_names_a_smile():
    for session in (SESSION, date(2026, 3, 2)):
        for symbol in INDEX_NAMES:
            below, at, above = skew_points(chain(symbol, session), session)
            assert below - above >= 0.04 and above < at < below, (symbol, session, below, at, above)
        for symbol in SINGLE_NAMES:
            below, at, above = skew_points(chain(symbol, session), session)
            assert below > above > at, (symbol, session, below, at, above)


def test_greeks_are_priced_with_the_reported_rate_and_dividend_yield():
    provider = SyntheticProvider(now=lambda: AFTER_THE_FACT)
    for symbol in ("SPY", "QQQ", "AAPL", "TSLA", "TLT", "ZZZ1"):
        snapshot = provider.fetch_chain(symbol, SESSION)
        assert snapshot.risk_free_rate == 0.04
        assert snapshot.dividend_yield == symbol_profile(symbol, DEFAULT_SEED).dividend_yield
        strike = np.array([float(quote.strike_price) for quote in snapshot.quotes])
        dte = np.array([(quote.expiration_date - SESSION).days for quote in snapshot.quotes])
        years = np.maximum(dte, 1) / 365
        iv = np.array([quote.implied_volatility for quote in snapshot.quotes])
        gamma = np.array([quote.gamma for quote in snapshot.quotes])
        repriced = bs_gamma(
            snapshot.underlying_close, strike, years, iv, snapshot.risk_free_rate, snapshot.dividend_yield
        )
        np.testing.assert_allclose(gamma, repriced, rtol=1e-9, atol=0)


def test_dividend_yields_by_name_type():
    for symbol in INDEX_NAMES:
        assert 0.006 <= symbol_profile(symbol, DEFAULT_SEED).dividend_yield <= 0.016, symbol
    assert symbol_profile("TSLA", DEFAULT_SEED).dividend_yield == 0.0
    unknown = [symbol_profile(f"Q{number:03d}", DEFAULT_SEED).dividend_yield for number in range(300)]
    assert 0.2 <= sum(q == 0 for q in unknown) / len(unknown) <= 0.45
    assert all(0.0 <= q <= 0.04 for q in unknown)


def test_chain_shape_gives_exact_sizes_as_cuts_of_the_same_market():
    full = chain("AAPL", SESSION)
    full_rows = contracts(full)
    for symbol, count in (("AAPL", 2000), ("AAPL", 10000), ("SPY", 2000), ("SPY", 10000)):
        cut = simulate_chain(symbol, SESSION, DEFAULT_SEED, ChainShape(contracts=count))
        assert cut.strike_cents.size == count, (symbol, count)
        assert len(contracts(cut)) == count
    small = simulate_chain("AAPL", SESSION, DEFAULT_SEED, ChainShape(contracts=300))
    for key, row in contracts(small).items():
        assert small.open_interest[row] == full.open_interest[full_rows[key]]
        assert small.gamma[row] == full.gamma[full_rows[key]]
    few = simulate_chain("SPY", SESSION, DEFAULT_SEED, ChainShape(max_expirations=3, max_strikes_per_expiry=10))
    assert len(expirations(few)) == 3 and few.strike_cents.size == 3 * 10 * 2


def test_chain_shape_refuses_an_empty_chain():
    for arguments in ({"contracts": 0}, {"max_expirations": 0}, {"max_strikes_per_expiry": 0}, {"band_scale": 0}):
        with pytest.raises(ValueError, match="ChainShape"):
            ChainShape(**arguments)


def digests(symbols: tuple[str, ...], sessions: list[date]) -> list[str]:
    """One digest per (symbol, session), in the order given; repr of floats is exact."""
    import hashlib

    out = []
    for symbol in symbols:
        for session in sessions:
            snapshot = simulate_chain(symbol, session, DEFAULT_SEED, ChainShape())
            text = repr(
                [getattr(snapshot, name).tolist() for name in ("strike_cents", "open_interest", "volume", "gamma")]
            )
            out.append(hashlib.sha256(f"{symbol}{session}{snapshot.underlying_close}{text}".encode()).hexdigest())
    return out


def test_the_market_is_the_same_in_any_process_and_any_order_of_sessions():
    sessions = list(WINDOW[:6])
    script = (
        "from datetime import date\n"
        "from tests.unit.test_synthetic_market import digests\n"
        f"sessions = [date.fromisoformat(day) for day in {[day.isoformat() for day in reversed(sessions)]!r}]\n"
        "print('\\n'.join(digests(('ZZZ1', 'SPY'), sessions)))\n"
    )
    environment = {**os.environ, "PYTHONHASHSEED": "4242"}
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO_ROOT, env=environment, capture_output=True, text=True, check=True
    )
    there = result.stdout.split()
    here = digests(("SPY", "ZZZ1"), sessions)
    by_pair: dict[str, list[str]] = defaultdict(list)
    for symbol, digest_list in (("ZZZ1", there[:6]), ("SPY", there[6:])):
        by_pair[symbol] = list(reversed(digest_list))
    assert by_pair["SPY"] + by_pair["ZZZ1"] == here
