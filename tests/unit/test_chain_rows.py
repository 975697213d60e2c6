from dataclasses import replace
from datetime import date
from decimal import Decimal

from providers.base import ChainSnapshot, OptionQuote
from tasks.chain_rows import validate_chain

SESSION = date(2025, 12, 9)
GOOD = OptionQuote(
    expiration_date=date(2025, 12, 19),
    strike_price=Decimal("100"),
    option_type="C",
    bid=1.0,
    ask=1.2,
    open_interest=500,
    gamma=0.03,
)


def snapshot(*quotes: OptionQuote, dropped_rows: int = 0) -> ChainSnapshot:
    return ChainSnapshot("SPY", SESSION, 100.0, tuple(quotes), "test", "test", dropped_rows=dropped_rows)


def test_valid_rows_pass_in_store_column_order():
    validated = validate_chain(snapshot(GOOD))
    assert validated.rows == (
        (date(2025, 12, 19), Decimal("100.0000"), "C", 1.0, 1.2, None, None, 500, None, None, 0.03, None, None),
    )
    assert validated.dropped == {}


def test_malformed_rows_are_counted_and_dropped():
    validated = validate_chain(
        snapshot(
            GOOD,
            replace(GOOD, strike_price=Decimal("101"), option_type="X"),
            replace(GOOD, strike_price=Decimal("102"), expiration_date=date(2025, 12, 8)),
            replace(GOOD, strike_price=Decimal("100.12345")),
            replace(GOOD, strike_price=Decimal("-5")),
            replace(GOOD, strike_price=Decimal("103"), open_interest=-1),
            replace(GOOD, strike_price=None),
            dropped_rows=2,
        )
    )
    assert len(validated.rows) == 1
    assert validated.dropped == {
        "bad_option_type": 1,
        "expired_before_session": 1,
        "strike_precision": 1,
        "bad_strike": 1,
        "bad_count": 1,
        "missing_key_field": 1,
        "dropped_by_provider": 2,
    }
    assert validated.dropped_total == 8


def test_duplicate_contracts_are_written_once_first_wins():
    validated = validate_chain(snapshot(GOOD, replace(GOOD, strike_price=Decimal("100.0"), bid=9.9)))
    assert len(validated.rows) == 1
    assert validated.rows[0][3] == 1.0
    assert validated.dropped == {"duplicate_contract": 1}


def test_non_finite_numbers_become_null_and_are_counted():
    validated = validate_chain(snapshot(replace(GOOD, gamma=float("nan"), delta=float("inf"), vega=0.1)))
    row = validated.rows[0]
    assert row[10] is None and row[9] is None and row[12] == 0.1
    assert validated.values_nulled == 2


def test_four_decimal_strikes_keep_their_exact_value():
    validated = validate_chain(snapshot(replace(GOOD, strike_price=Decimal("187.1234"))))
    assert validated.rows[0][1] == Decimal("187.1234")
