"""The forward implied by put-call parity, for sources that have no stock price."""

from datetime import date
from decimal import Decimal

from markets.parity import QuotedPair, forward_from_parity

SESSION = date(2025, 12, 15)


def pairs(forward: float, expiry: date, strikes: list[int], time_value: float = 1.5) -> list[QuotedPair]:
    """Calls and puts priced off `forward`: each side's intrinsic value plus the same time value."""
    return [
        QuotedPair(
            expiry, Decimal(strike), max(forward - strike, 0) + time_value, max(strike - forward, 0) + time_value
        )
        for strike in strikes
    ]


def test_the_forward_comes_back_from_prices_that_keep_parity():
    assert forward_from_parity(pairs(101.37, date(2026, 1, 16), list(range(80, 125, 5))), SESSION) == 101.37


def test_expiries_inside_a_week_are_passed_over_for_the_next_one():
    noisy = pairs(250.0, date(2025, 12, 17), [95, 100, 105])  # 2 days out: pin noise, not used
    assert forward_from_parity(noisy + pairs(100.0, date(2025, 12, 26), [95, 100, 105]), SESSION) == 100.0


def test_the_strikes_nearest_the_money_decide_and_a_bad_far_quote_does_not():
    quotes = pairs(100.0, date(2026, 1, 16), [90, 95, 100, 105, 110])
    quotes[0] = QuotedPair(quotes[0].expiration_date, quotes[0].strike, 30.0, 0.5)  # a stale deep quote
    assert forward_from_parity(quotes, SESSION) == 100.0


def test_too_few_quoted_pairs_give_no_estimate():
    assert forward_from_parity(pairs(100.0, date(2026, 1, 16), [95, 100]), SESSION) is None
    assert forward_from_parity([], SESSION) is None
