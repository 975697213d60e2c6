"""Massive OCC tickers: parse what Massive writes, refuse anything else, and write them back."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from markets.occ import InvalidOccTicker, OccContract, format_occ_ticker, parse_occ_ticker


@pytest.mark.parametrize(
    ("ticker", "root", "expiration", "option_type", "strike"),
    [
        ("O:AAPL230616C00150000", "AAPL", date(2023, 6, 16), "C", Decimal("150")),
        ("O:F251219P00012000", "F", date(2025, 12, 19), "P", Decimal("12")),
        ("O:GM260116C00045500", "GM", date(2026, 1, 16), "C", Decimal("45.5")),
        ("O:SPY260123C00687000", "SPY", date(2026, 1, 23), "C", Decimal("687")),
        ("O:GOOGL250117P00170000", "GOOGL", date(2025, 1, 17), "P", Decimal("170")),
        ("O:SPXW230712C04500000", "SPXW", date(2023, 7, 12), "C", Decimal("4500")),
        ("O:AMCR1251219C00010000", "AMCR1", date(2025, 12, 19), "C", Decimal("10")),
        ("O:BRKB12260116C00500000", "BRKB12", date(2026, 1, 16), "C", Decimal("500")),
        ("O:XYZ260320P00032500", "XYZ", date(2026, 3, 20), "P", Decimal("32.5")),
        ("O:XYZ260320P00000125", "XYZ", date(2026, 3, 20), "P", Decimal("0.125")),
    ],
)
def test_parses_roots_of_one_to_six_characters_with_exact_strikes(ticker, root, expiration, option_type, strike):
    contract = parse_occ_ticker(ticker)

    assert contract == OccContract(root, expiration, option_type, strike)
    assert isinstance(contract.strike_price, Decimal)


def test_strike_is_exact_decimal_not_float():
    contract = parse_occ_ticker("O:XYZ260320P00032500")

    assert contract.strike_price == Decimal("32.5")
    assert str(contract.strike_price) == "32.5"


def test_prefix_is_optional():
    assert parse_occ_ticker("AAPL230616C00150000") == parse_occ_ticker("O:AAPL230616C00150000")


def test_root_ending_in_a_digit_is_not_mistaken_for_the_expiry():
    contract = parse_occ_ticker("O:A1251219C00010000")

    assert (contract.root, contract.expiration_date) == ("A1", date(2025, 12, 19))


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "O:",
        "AAPL",
        "O:AAPL230616X00150000",  # type is neither C nor P
        "O:AAPL230616C0015000",  # strike has 7 digits
        "O:AAPL230616C001500000",  # strike has 9 digits
        "O:AAPL23061C00150000",  # expiry has 5 digits
        "O:TOOLONG230616C00150000",  # 7-character root
        "O:230616C00150000",  # no root
        "O:1AB230616C00150000",  # root starting with a digit
        "O:aapl230616C00150000",  # lower case
        "O:AAPL 230616C00150000",  # OSI space padding
        "X:AAPL230616C00150000",  # another asset class prefix
        " O:AAPL230616C00150000",
        "O:AAPL231332C00150000",  # month 13
        "O:AAPL230230C00150000",  # 30 February
        "O:AAPL230616C00000000",  # zero strike
    ],
)
def test_rejects_anything_else_with_a_value_error(bad):
    with pytest.raises(InvalidOccTicker):
        parse_occ_ticker(bad)


def test_error_message_names_the_input_and_the_expected_form():
    with pytest.raises(ValueError, match=r"'O:AAPL230616X00150000' is not a Massive OCC option ticker.*YYMMDD"):
        parse_occ_ticker("O:AAPL230616X00150000")


def test_non_text_is_rejected():
    with pytest.raises(InvalidOccTicker, match="must be text"):
        parse_occ_ticker(None)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "ticker",
    ["O:AAPL230616C00150000", "O:AMCR1251219C00010000", "O:SPXW230712C04500000", "O:XYZ260320P00032500"],
)
def test_format_is_the_inverse_of_parse(ticker):
    contract = parse_occ_ticker(ticker)

    assert contract.ticker == ticker
    assert (
        format_occ_ticker(contract.root, contract.expiration_date, contract.option_type, contract.strike_price)
        == ticker
    )


def test_format_accepts_numbers_and_can_omit_the_prefix():
    assert format_occ_ticker("XYZ", date(2026, 3, 20), "P", 32.5) == "O:XYZ260320P00032500"
    assert format_occ_ticker("XYZ", date(2026, 3, 20), "P", "0.125", prefix=False) == "XYZ260320P00000125"
    assert format_occ_ticker("SPXW", date(2023, 7, 12), "C", 4500) == "O:SPXW230712C04500000"


@pytest.mark.parametrize(
    ("root", "expiration", "option_type", "strike"),
    [
        ("TOOLONG", date(2026, 1, 16), "C", 10),
        ("aapl", date(2026, 1, 16), "C", 10),
        ("AAPL", date(1999, 1, 15), "C", 10),
        ("AAPL", date(2026, 1, 16), "call", 10),
        ("AAPL", date(2026, 1, 16), "C", "10.0001"),
        ("AAPL", date(2026, 1, 16), "C", 0),
        ("AAPL", date(2026, 1, 16), "C", 100000),
        ("AAPL", date(2026, 1, 16), "C", "ten"),
    ],
)
def test_format_refuses_terms_a_ticker_cannot_hold(root, expiration, option_type, strike):
    with pytest.raises(InvalidOccTicker):
        format_occ_ticker(root, expiration, option_type, strike)
