"""The synthetic provider: a deterministic SIMULATED market whose chains look like real ones."""

from __future__ import annotations

import hashlib
import math
import os
import statistics
import subprocess
import sys
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from providers._synthetic_market import INDEX_LIKE
from providers.base import ChainSnapshot, SessionUnavailable, SymbolNotFound
from providers.registry import get_provider
from providers.synthetic import ChainShape, SyntheticProvider

REPO_ROOT = Path(__file__).resolve().parents[2]
TUESDAY = date(2025, 12, 9)
WEDNESDAY = date(2025, 12, 10)
FRIDAY = date(2025, 12, 12)
# Well after every session the tests ask for, unless a test pins its own clock.
AFTER_THE_FACT = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
SYMBOLS = ("SPY", "QQQ", "AAPL", "MSFT", "NVDA", "TSLA", "AMZN", "META", "IWM", "SPX", "ZZZ1", "BRK.B")


@pytest.fixture(scope="module")
def provider() -> SyntheticProvider:
    return SyntheticProvider(now=lambda: AFTER_THE_FACT)


def weekdays(start: date, count: int) -> list[date]:
    days, day = [], start
    while len(days) < count:
        if day.weekday() < 5:
            days.append(day)
        day += timedelta(days=1)
    return days


def snapshot_digest(snapshot: ChainSnapshot) -> str:
    """repr of floats is exact (shortest round-trip), so equal digests mean bit-identical values."""
    text = repr((snapshot.symbol, snapshot.session, snapshot.underlying_close, snapshot.quotes))
    return hashlib.sha256(text.encode()).hexdigest()


def by_key(snapshot: ChainSnapshot) -> dict:
    return {quote.key: quote for quote in snapshot.quotes}


def test_same_inputs_give_identical_snapshots(provider: SyntheticProvider):
    first = provider.fetch_chain("SPY", TUESDAY)
    again = SyntheticProvider(now=lambda: AFTER_THE_FACT).fetch_chain("SPY", TUESDAY)

    assert first == again
    assert snapshot_digest(first) == snapshot_digest(again)


def test_snapshot_is_bit_identical_in_a_fresh_process(provider: SyntheticProvider):
    script = (
        "from datetime import UTC, date, datetime\n"
        "from providers.synthetic import SyntheticProvider\n"
        "from tests.unit.test_synthetic_provider import snapshot_digest\n"
        "clock = lambda: datetime(2026, 1, 5, 12, tzinfo=UTC)\n"
        "for symbol in ('SPY', 'ZZZ1'):\n"
        "    print(snapshot_digest(SyntheticProvider(now=clock).fetch_chain(symbol, date(2025, 12, 9))))\n"
    )
    # A different hash seed than this process: nothing may depend on Python's salted hash().
    environment = {**os.environ, "PYTHONHASHSEED": "12345"}
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO_ROOT, env=environment, capture_output=True, text=True, check=True
    )

    expected = [snapshot_digest(provider.fetch_chain(symbol, TUESDAY)) for symbol in ("SPY", "ZZZ1")]
    assert result.stdout.split() == expected


def test_seed_changes_the_market():
    default = SyntheticProvider(now=lambda: AFTER_THE_FACT).fetch_chain("SPY", TUESDAY)
    reseeded = SyntheticProvider(seed=7, now=lambda: AFTER_THE_FACT).fetch_chain("SPY", TUESDAY)

    assert default.underlying_close != reseeded.underlying_close


def test_spot_follows_a_continuous_path_across_sessions(provider: SyntheticProvider):
    for symbol in ("SPY", "NVDA", "ZZZ1"):
        closes = [provider.fetch_chain(symbol, session).underlying_close for session in weekdays(date(2025, 10, 1), 30)]
        log_returns = [math.log(later / earlier) for earlier, later in zip(closes, closes[1:], strict=False)]

        assert all(close > 0 for close in closes)
        assert all(abs(move) < 0.15 for move in log_returns), symbol
        # Distinct days differ (two closes may still round to the same cent by chance).
        assert sum(move != 0 for move in log_returns) >= 0.9 * len(log_returns), symbol
        assert statistics.pstdev(log_returns) < 0.06, symbol


def test_well_known_symbols_trade_near_their_usual_level(provider: SyntheticProvider):
    spy = provider.fetch_chain("SPY", TUESDAY).underlying_close
    spx = provider.fetch_chain("SPX", TUESDAY).underlying_close

    assert 300 < spy < 1200
    assert 3000 < spx < 12000


def test_underlying_close_is_in_cents(provider: SyntheticProvider):
    close = provider.fetch_chain("AAPL", TUESDAY).underlying_close

    assert isinstance(close, float)
    assert close == round(close, 2)


def test_expirations_start_at_the_session_and_include_dailies_weeklies_and_monthlies(provider: SyntheticProvider):
    index = sorted({quote.expiration_date for quote in provider.fetch_chain("SPY", FRIDAY).quotes})
    single = sorted({quote.expiration_date for quote in provider.fetch_chain("AAPL", FRIDAY).quotes})
    fridays_within_seven_weeks = [FRIDAY + timedelta(weeks=week) for week in range(7)]
    third_fridays = [date(2026, 1, 16), date(2026, 2, 20), date(2026, 3, 20), date(2026, 4, 17), date(2026, 5, 15)]
    next_week = [date(2025, 12, 15) + timedelta(days=offset) for offset in range(5)]

    for expirations in (index, single):
        assert expirations[0] == FRIDAY  # the 0-DTE expiry of a Friday session
        assert all(expiry >= FRIDAY for expiry in expirations)
        assert set(fridays_within_seven_weeks) <= set(expirations)
        assert any(expiry.year >= 2027 and expiry.month == 1 for expiry in expirations)  # LEAPS
    assert set(third_fridays) <= set(index)
    assert set(next_week) <= set(index)  # an index name expires every session
    assert {date(2026, 1, 16), date(2026, 2, 20), date(2026, 3, 20)} <= set(single)
    # A single name expires on Fridays, or on the session before a Friday holiday (Juneteenth 2026).
    assert {expiry for expiry in single if expiry.weekday() != 4} == {date(2026, 6, 18)}


def test_midweek_session_lists_no_expired_contracts(provider: SyntheticProvider):
    index = {quote.expiration_date for quote in provider.fetch_chain("QQQ", WEDNESDAY).quotes}
    single = {quote.expiration_date for quote in provider.fetch_chain("AAPL", WEDNESDAY).quotes}

    assert min(index) == WEDNESDAY  # expiring at this close: still listed in its end-of-session snapshot
    assert min(single) == date(2025, 12, 12)


def test_strikes_are_decimals_with_at_most_four_places(provider: SyntheticProvider):
    for symbol in ("SPY", "ZZZ1", "SPX"):
        for quote in provider.fetch_chain(symbol, TUESDAY).quotes:
            assert isinstance(quote.strike_price, Decimal)
            assert quote.strike_price > 0
            assert -quote.strike_price.as_tuple().exponent <= 4
            assert quote.option_type in ("C", "P")


def test_strike_increments_fit_the_price_level(provider: SyntheticProvider):
    def smallest_increment(symbol: str) -> Decimal:
        strikes = sorted({quote.strike_price for quote in provider.fetch_chain(symbol, TUESDAY).quotes})
        return min(high - low for low, high in zip(strikes, strikes[1:], strict=False))

    assert smallest_increment("SPX") == Decimal("10")
    assert smallest_increment("SPY") == Decimal("1")
    assert smallest_increment("AAPL") == Decimal("2.5")


def test_contract_keys_are_unique(provider: SyntheticProvider):
    for symbol in SYMBOLS:
        quotes = provider.fetch_chain(symbol, TUESDAY).quotes
        assert len({quote.key for quote in quotes}) == len(quotes), symbol


def test_greeks_and_implied_volatility_are_sane(provider: SyntheticProvider):
    for symbol in SYMBOLS:
        snapshot = provider.fetch_chain(symbol, TUESDAY)
        quotes = snapshot.quotes
        calls = [quote for quote in quotes if quote.option_type == "C"]
        puts = [quote for quote in quotes if quote.option_type == "P"]

        assert all(0 < quote.delta < 1 for quote in calls), symbol
        assert all(-1 < quote.delta < 0 for quote in puts), symbol
        assert all(quote.gamma > 0 for quote in quotes), symbol
        assert all(quote.vega >= 0 for quote in quotes), symbol
        assert all(0.05 < quote.implied_volatility < 2 for quote in quotes), symbol
        # A call's theta is at most its dividend carry q·S per day (so never positive without dividends).
        carry = snapshot.dividend_yield * snapshot.underlying_close / 365
        assert all(quote.theta <= carry for quote in calls), symbol
        assert sum(quote.theta <= 0 for quote in quotes) > 0.75 * len(quotes), symbol


def test_call_and_put_at_the_same_strike_share_gamma_and_vega(provider: SyntheticProvider):
    snapshot = provider.fetch_chain("AAPL", TUESDAY)
    chain = by_key(snapshot)
    pairs = [(quote, chain[(expiry, strike, "P")]) for (expiry, strike, kind), quote in chain.items() if kind == "C"]

    assert pairs and snapshot.dividend_yield > 0
    for call, put in pairs:
        years = max((call.expiration_date - TUESDAY).days, 1) / 365
        assert call.gamma == pytest.approx(put.gamma)
        assert call.vega == pytest.approx(put.vega)
        assert call.delta - put.delta == pytest.approx(math.exp(-snapshot.dividend_yield * years))


def test_puts_at_the_lowest_strike_carry_more_volatility_than_at_the_money(provider: SyntheticProvider):
    for symbol in ("SPY", "AAPL", "ZZZ1"):
        snapshot = provider.fetch_chain(symbol, TUESDAY)
        puts_by_expiry: dict[date, list] = defaultdict(list)
        for quote in snapshot.quotes:
            if quote.option_type == "P":
                puts_by_expiry[quote.expiration_date].append(quote)

        for expiry, puts in puts_by_expiry.items():
            lowest = min(puts, key=lambda quote: quote.strike_price)
            at_the_money = min(puts, key=lambda quote: abs(float(quote.strike_price) - snapshot.underlying_close))
            assert lowest.implied_volatility > at_the_money.implied_volatility, (symbol, expiry)


def test_open_interest_drifts_moderately_from_day_to_day(provider: SyntheticProvider):
    for symbol in ("SPY", "AAPL", "ZZZ1"):
        today = by_key(provider.fetch_chain(symbol, TUESDAY))
        tomorrow = by_key(provider.fetch_chain(symbol, WEDNESDAY))
        shared = [key for key in today if key in tomorrow and today[key].open_interest > 0]
        changes = [
            abs(tomorrow[key].open_interest - today[key].open_interest) / today[key].open_interest for key in shared
        ]

        assert len(shared) > 0.8 * len(today), symbol
        assert statistics.median(changes) < 0.20, symbol
        assert sum(change > 0 for change in changes) > 0.8 * len(changes), symbol


def test_open_interest_and_volume_are_non_negative_integers(provider: SyntheticProvider):
    quotes = provider.fetch_chain("TSLA", TUESDAY).quotes

    assert all(isinstance(quote.open_interest, int) and quote.open_interest >= 0 for quote in quotes)
    assert all(isinstance(quote.volume, int) and quote.volume >= 0 for quote in quotes)
    assert sum(quote.volume for quote in quotes) < sum(quote.open_interest for quote in quotes)


def test_put_positions_sit_below_spot_and_call_positions_above(provider: SyntheticProvider):
    for symbol in SYMBOLS:
        snapshot = provider.fetch_chain(symbol, TUESDAY)
        mass: dict[tuple[str, bool], int] = defaultdict(int)
        for quote in snapshot.quotes:
            below = float(quote.strike_price) < snapshot.underlying_close
            mass[(quote.option_type, below)] += quote.open_interest

        assert mass[("P", True)] > mass[("C", True)], symbol
        assert mass[("C", False)] > mass[("P", False)], symbol


def test_quotes_are_ordered_markets_in_cents(provider: SyntheticProvider):
    for symbol in SYMBOLS:
        for quote in provider.fetch_chain(symbol, TUESDAY).quotes:
            assert 0 <= quote.bid < quote.ask, (symbol, quote.key)
            assert quote.bid <= quote.last <= quote.ask, (symbol, quote.key)
            for price in (quote.bid, quote.ask, quote.last):
                assert price == round(price, 2)


def test_contract_count_is_in_the_target_range(provider: SyntheticProvider):
    # The ranges stated in providers/_synthetic_market.py (tests/unit/test_synthetic_market.py checks more).
    for symbol in SYMBOLS:
        for session in (TUESDAY, FRIDAY):
            count = len(provider.fetch_chain(symbol, session).quotes)
            low, high = (2500, 11000) if symbol in INDEX_LIKE else (250, 4500)
            assert low <= count <= high, (symbol, session, count)
    assert len(provider.fetch_chain("SPY", TUESDAY).quotes) >= 4000


def test_chain_shape_sizes_the_chain():
    small = ChainShape(max_expirations=3, max_strikes_per_expiry=10)
    quotes = SyntheticProvider(now=lambda: AFTER_THE_FACT, shape=small).fetch_chain("SPY", TUESDAY).quotes
    exact = SyntheticProvider(now=lambda: AFTER_THE_FACT, shape=ChainShape(contracts=2000)).fetch_chain("AAPL", TUESDAY)

    assert len({quote.expiration_date for quote in quotes}) == 3
    assert len(quotes) == 3 * 10 * 2
    assert len(exact.quotes) == 2000


def test_snapshot_is_labelled_simulated(provider: SyntheticProvider):
    snapshot = provider.fetch_chain("MSFT", TUESDAY)

    assert provider.name == "synthetic"
    assert provider.simulated is True
    assert snapshot.provider == "synthetic"
    assert snapshot.simulated is True
    assert "SIMULATED" in snapshot.source
    assert snapshot.missing_fields == ()
    assert snapshot.notes["model"] == "synthetic-v2"
    assert (snapshot.risk_free_rate, snapshot.dividend_yield) == (0.04, 0.007)  # the rate and yield it priced with
    assert snapshot.symbol == "MSFT"
    assert snapshot.session == TUESDAY
    assert isinstance(snapshot.quotes, tuple)


def test_any_valid_symbol_gets_a_chain(provider: SyntheticProvider):
    for symbol in ("ZZZ1", "BRK.B", "BF-B", "X", "1234"):
        snapshot = provider.fetch_chain(symbol, TUESDAY)
        assert snapshot.quotes, symbol
        assert snapshot.underlying_close > 0, symbol


def test_symbol_is_normalised_before_simulating(provider: SyntheticProvider):
    assert provider.fetch_chain(" brk.b ", TUESDAY) == provider.fetch_chain("BRK.B", TUESDAY)


def test_invalid_symbol_is_refused(provider: SyntheticProvider):
    with pytest.raises(SymbolNotFound, match="not a ticker"):
        provider.fetch_chain("not a ticker", TUESDAY)


def test_future_session_is_unavailable():
    provider = SyntheticProvider(now=lambda: datetime(2025, 12, 9, 22, 0, tzinfo=UTC))

    with pytest.raises(SessionUnavailable, match="2025-12-10"):
        provider.fetch_chain("SPY", WEDNESDAY)


def test_todays_session_is_unavailable_until_the_new_york_close():
    # 15:59 and 16:00 New York on 2025-12-09 (EST, UTC-5).
    before_close = SyntheticProvider(now=lambda: datetime(2025, 12, 9, 20, 59, tzinfo=UTC))
    at_close = SyntheticProvider(now=lambda: datetime(2025, 12, 9, 21, 0, tzinfo=UTC))

    with pytest.raises(SessionUnavailable, match="2025-12-09.*not closed"):
        before_close.fetch_chain("SPY", TUESDAY)
    assert at_close.fetch_chain("SPY", TUESDAY).quotes


def test_weekend_is_not_a_trading_session(provider: SyntheticProvider):
    for weekend_day in (date(2025, 12, 13), date(2025, 12, 14)):
        with pytest.raises(SessionUnavailable, match=f"{weekend_day.isoformat()}.*not a trading session"):
            provider.fetch_chain("SPY", weekend_day)


def test_session_before_the_simulated_history_is_unavailable(provider: SyntheticProvider):
    with pytest.raises(SessionUnavailable, match="1999-12-31"):
        provider.fetch_chain("SPY", date(1999, 12, 31))


def test_registry_serves_the_synthetic_provider_by_name():
    provider = get_provider("synthetic")

    assert isinstance(provider, SyntheticProvider)
    assert provider.simulated is True
